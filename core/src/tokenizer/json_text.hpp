// JSON files of tokenizers (vocab.json, tokenizer.json) parsed strictly: a key given twice in
// one object is refused rather than silently dropped, and so is nesting past a fixed depth.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace loom::tok {

// Parses `text`, read from `name` (for messages). Throws loom::Error naming the file and what is
// wrong: not JSON (with nlohmann's position), a NUL byte, a duplicate key (with its path), too deep.
nlohmann::json parse_json_text(std::string_view text, const std::string& name);

// "an object", "a string", "a number", ... for messages.
std::string json_kind(const nlohmann::json& j);

}  // namespace loom::tok
