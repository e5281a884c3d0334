// Every heap allocation of the unit-test process is counted (counting_allocator.cpp replaces
// malloc, its relatives and operator new; not in sanitizer builds), so that a test can
// assert that some code allocates nothing. Allocations made directly by code of one chosen
// shared library (a third-party library whose internals we do not control) are counted apart.
#pragma once

#include <cstdint>
#include <string>

namespace loom::test {
// Allocations so far, not counting those of the set-aside library.
uint64_t heap_allocations();
// Allocations so far made directly by code of the set-aside library.
uint64_t set_aside_allocations();
// Sets aside the loaded library whose file name contains `name` (e.g. "libdnnl.so"); false if
// no loaded library matches.
bool set_aside_library(const std::string& name);
// Whether allocations are counted at all (not under sanitizers, whose runtimes own malloc).
bool counting();
// Whether malloc and friends are counted too, not only operator new.
bool counts_malloc();
// While watching, every counted allocation also calls allocation_while_watching(): a place for a
// debugger's breakpoint when a test finds allocations it did not expect.
void watch_allocations(bool on);
void allocation_while_watching();
}  // namespace loom::test
