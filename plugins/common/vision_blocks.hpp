// Graph pieces the vision plugins share: the patch embedding and a token put in front of the
// patches (ViT's CLS, CLIP's class embedding, BEiT's CLS).
#pragma once

#include "graph_writer.hpp"

#include <cstdint>
#include <string>

namespace loom::models {

// nn.Conv2d(C, H, P, stride=P) over `pixels` [B, C, h, w], then flatten(2).transpose(1, 2):
// tokens [B, (h/P)·(w/P), H] in row-major grid order. `bias` may be "". Values are named
// `prefix` + ".grid", ".flat".
void patch_embedding(GraphWriter& g, const std::string& pixels, const std::string& weight, const std::string& bias, int64_t patch,
                     const std::string& prefix, const std::string& out);
// The same with patches of patch_h x patch_w pixels (ViT's patch_size as [height, width]).
void patch_embedding(GraphWriter& g, const std::string& pixels, const std::string& weight, const std::string& bias, int64_t patch_h,
                     int64_t patch_w, const std::string& prefix, const std::string& out);

// `token` (a weight of `hidden` elements, any shape) once per batch row of `batch_like` (its
// dim 0), put before `tokens` [B, N, hidden]: out [B, N+1, hidden]. A gather of row 0 for each
// batch row, so no value is multiplied. Values are named `prefix` + ".rows", ".index", ...
void prepend_token(GraphWriter& g, const std::string& token, int64_t hidden, const std::string& batch_like, const std::string& tokens,
                   const std::string& prefix, const std::string& out);

}  // namespace loom::models
