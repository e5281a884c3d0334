// The parts of `loom bench` below the command itself: generated inputs (bench_inputs.cpp) and
// the per-node trace of --profile (bench_trace.cpp).
#pragma once

#include <loom/engine.hpp>

#include <cstdint>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace loom::cli::bench {

// The graph input that takes token ids: the tokenizer's `input_ids` where the graph has a
// processing section, else an integer input named input_ids, else the first integer input of
// rank 2. Null when there is none.
const GraphInput* token_input(const Graph& g);
// The graph input that takes images as f32 [batch, channels, height, width]: the image
// processor's input where the graph has a processing section, else one named pixel_values.
// Null when there is none.
const GraphInput* image_input(const Graph& g);
// The number of token ids `input` accepts: the tokenizer's vocabulary, else the rows of the
// table a `gather` node looks the input up in. 0 when neither says.
int64_t vocabulary(const Graph& g, const std::string& input);
// A tensor for `in`: shaped by `dims` (unbound symbols count as 1); token ids uniform in
// 0..vocab-1 (when vocab > 0), other integers the input's declared default or 1 (a full
// attention mask, a valid type id), floats uniform in [-1, 1].
Tensor generated_input(const GraphInput& in, const std::map<std::string, int64_t>& dims, std::mt19937& rng, int64_t vocab);
// Random ids in 0..vocab-1 (or ones when vocab is 0) written over an i64 tensor.
void fill_ids(Tensor& t, std::mt19937& rng, int64_t vocab);

// One run's partitions as a Chrome trace (chrome://tracing, Perfetto): one complete event
// ("ph": "X", ts and dur in microseconds from the run's start) per partition, named after its
// node (its nodes, joined, when a partition holds several), with the op, backend and partition,
// and device_us where the backend timed its device (PartitionTiming::device_ns).
void write_trace(std::ostream& os, const Session& s, const std::vector<PartitionTiming>& timings, const std::string& model,
                 const std::string& what);

}  // namespace loom::cli::bench
