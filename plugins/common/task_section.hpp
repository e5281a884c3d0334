// Entries of the `processing.tasks` list shared by the model plugins.
#pragma once

#include "config.hpp"

#include <string>
#include <vector>

namespace loom::models {

// config.json's problem_type: "", single_label_classification, multi_label_classification or
// regression (anything else is an error naming the key).
std::string read_problem_type(const JsonFile& config);

// A classification task (`text-classification`, `image-classification`) over `output` with the
// checkpoint's labels, scored as transformers' pipelines score it, in their order: nothing for
// regression (text-classification only: the image-classification pipeline has no such case),
// then sigmoid for multi-label or a single label, then softmax for single-label or several
// labels. YAML for one item of `tasks:` (indented for the section).
std::string classification_task(const std::string& task, const std::string& output, const std::vector<std::string>& labels,
                                const std::string& problem_type);

// Refuses a requested task (a Hugging Face pipeline name) that `architecture`'s graph does not
// offer, listing those it does; "" is the default task and always accepted.
void check_task(const std::string& task, const std::vector<std::string>& offered, const std::string& architecture);

}  // namespace loom::models
