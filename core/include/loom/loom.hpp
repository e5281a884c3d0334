// Everything a host application needs.
#pragma once

#include <loom/engine.hpp>
#include <loom/error.hpp>
#include <loom/generation.hpp>
#include <loom/graph.hpp>
#include <loom/image.hpp>
#include <loom/io.hpp>
#include <loom/tensor.hpp>
#include <loom/tokenizer.hpp>
