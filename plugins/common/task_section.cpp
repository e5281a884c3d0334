#include "task_section.hpp"

#include "graph_writer.hpp"

#include <loom/plugin_sdk.hpp>

#include <algorithm>
#include <sstream>

namespace loom::models {

std::string read_problem_type(const JsonFile& config) {
  const std::string p = config.string("problem_type", "");
  if (!p.empty() && p != "single_label_classification" && p != "multi_label_classification" && p != "regression")
    config.fail("problem_type", "'" + p + "' is not one of single_label_classification, multi_label_classification, regression");
  return p;
}

std::string classification_task(const std::string& task, const std::string& output, const std::vector<std::string>& labels,
                                const std::string& problem_type) {
  const size_t n = labels.size();
  // The pipelines' order: one label means sigmoid whatever problem_type says, but for regression
  // in the text-classification pipeline, which the image-classification pipeline does not know.
  std::string f = "none";
  if (problem_type == "regression" && task == "text-classification") f = "none";
  else if (problem_type == "multi_label_classification" || n == 1) f = "sigmoid";
  else if (problem_type == "single_label_classification" || n > 1) f = "softmax";
  std::ostringstream y;
  y << "    - task: " << task << "\n      output: " << quoted(output) << "\n      function: " << f << "\n      id2label:\n";
  for (size_t i = 0; i < n; ++i) y << "        " << i << ": " << quoted(labels[i]) << "\n";
  return y.str();
}

void check_task(const std::string& task, const std::vector<std::string>& offered, const std::string& architecture) {
  if (task.empty() || std::find(offered.begin(), offered.end(), task) != offered.end()) return;
  std::string list;
  for (const auto& t : offered) list += (list.empty() ? "" : ", ") + t;
  throw sdk::Error("task '" + task + "' is not offered by " + architecture + " (" + list + ")", LOOM_STATUS_UNSUPPORTED);
}

}  // namespace loom::models
