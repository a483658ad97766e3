#include "sweeps/search.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"

namespace mad::sweeps {

std::string_view method_name(Search::Method method) { return method == Search::Method::grid ? "grid" : "halving"; }

std::vector<int64_t> default_rungs(int64_t epochs) {
  std::vector<int64_t> rungs;
  for (double fraction : {1.0 / 20, 3.0 / 20, 2.0 / 5}) {
    const int64_t rung = std::llround(fraction * static_cast<double>(epochs));
    if (rung >= 1 && rung < epochs && (rungs.empty() || rung > rungs.back())) rungs.push_back(rung);
  }
  return rungs;
}

Search search_from_config(const config::Value* value, int64_t epochs, size_t grid_runs) {
  Search search;
  if (!value) return search;
  MAD_CHECK(value->is_map() && value->contains("method"),
            "{}: 'search' is a map with a method, e.g. {{method: halving, rungs: [10, 30, 80], keep: 0.5}} or "
            "{{method: grid}}",
            value->where());
  value->check_keys({"method", "rungs", "keep"}, "search");
  const config::Value& method = value->at("method");
  const std::string& name = method.as_string();
  MAD_CHECK(name == "grid" || name == "halving", "{}: unknown search method '{}'; use grid or halving", method.where(),
            name);
  if (name == "grid") {
    MAD_CHECK(!value->contains("rungs") && !value->contains("keep"),
              "{}: rungs and keep belong to method: halving; remove them or use method: halving", value->where());
    return search;
  }
  search.method = Search::Method::halving;
  MAD_CHECK(grid_runs > 1,
            "{}: halving chooses among each setting's runs, but lr x weight_decay gives 1 run per setting; add lr or "
            "weight_decay values, or use method: grid",
            method.where());
  if (const config::Value* keep = value->find("keep")) {
    search.keep = keep->as_double();
    MAD_CHECK(search.keep > 0 && search.keep < 1,
              "{}: keep is the fraction of runs kept at each rung and must be in (0, 1), e.g. 0.5; got {}",
              keep->where(), search.keep);
  }
  if (const config::Value* rungs = value->find("rungs")) {
    MAD_CHECK(rungs->is_list() && !rungs->as_list().empty(),
              "{}: rungs is a non-empty list of epochs, e.g. [10, 30, 80]", rungs->where());
    for (const config::Value& item : rungs->as_list()) {
      const int64_t rung = item.as_int();
      MAD_CHECK(rung >= 1, "{}: a rung is an epoch after which runs are compared and must be at least 1, got {}",
                item.where(), rung);
      MAD_CHECK(rung < epochs, "{}: rung {} is not below epochs ({}); rungs must stop runs before their last epoch",
                item.where(), rung, epochs);
      MAD_CHECK(search.rungs.empty() || rung > search.rungs.back(),
                "{}: rungs must increase, but {} follows {}; list them in increasing order without repeats",
                item.where(), rung, search.rungs.back());
      search.rungs.push_back(rung);
    }
  } else {
    search.rungs = default_rungs(epochs);
    MAD_CHECK(!search.rungs.empty(), "{}: {} epoch(s) leave no room for a rung; give more epochs or use method: grid",
              value->where(), epochs);
  }
  return search;
}

config::Value to_config(const Search& search) {
  config::Value v = config::Value::map();
  v.set("method", std::string(method_name(search.method)));
  if (search.halving()) {
    config::Value rungs = config::Value::list();
    for (int64_t r : search.rungs) rungs.push_back(config::Value(r));
    v.set("rungs", rungs);
    v.set("keep", search.keep);
  }
  return v;
}

}  // namespace mad::sweeps
