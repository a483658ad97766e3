// Sweeps with iso_state / iso_params: every architecture is normalised (models/normalize.h) before it is
// planned; the runs train, key and record the normalised spec with its state and parameters.
#include <gtest/gtest.h>

#include <cmath>

#include "config/yaml.h"
#include "results/run_key.h"
#include "sweeps/sweep_plan.h"
#include "sweeps/train_run.h"
#include "tests/support/test_util.h"

namespace mad::sweeps {
namespace {

using testing::error_of;

SweepSpec parse(const std::string& yaml) { return sweep_from_config(config::load_string(yaml, "spec.yml"), "."); }

const std::string kArchs =
    "architectures:\n"
    "  gla: [mh-gated-linear-attention, swiglu, mh-gated-linear-attention, swiglu]\n"
    "  mlstm: [mlstm, swiglu, mlstm, swiglu]\n"
    "settings: [{task: in-context-recall}]\nlr: [1.0e-3]\nweight_decay: [0.0]\n";

TEST(IsoSweep, PlansAndRecordsTheNormalisedArchitectures) {
  const SweepSpec spec = parse("name: iso\niso_state: 2048\n" + kArchs);
  ASSERT_EQ(spec.architectures.size(), 2u);
  const std::vector<PlannedRun> runs = plan_sweep(spec);
  ASSERT_EQ(runs.size(), 2u);
  for (const PlannedRun& run : runs) {
    const SweepArchitecture& a = spec.architectures[run.architecture];
    SCOPED_TRACE(a.name);
    EXPECT_TRUE(a.normalized);
    EXPECT_EQ(a.state, 2048);
    EXPECT_TRUE(a.state_exact);
    EXPECT_EQ(a.original_state, a.name == "gla" ? 4096 : 2 * 2184);
    const results::RunRecord record = planned_record(spec, run, 1);
    EXPECT_EQ(record.architecture.state_size, 2048);
    EXPECT_TRUE(record.architecture.fixed_state);
    EXPECT_EQ(record.architecture.params, describe_at(a.spec, run.settings).params);
    EXPECT_NE(record.architecture.params, a.original_params);
    EXPECT_EQ(record.architecture.spec, models::to_config(a.spec));
    EXPECT_EQ(run.key, results::run_key(record));  // the key is the normalised spec's
    // The resolved document stored with the sweep lists the normalised spec.
    EXPECT_EQ(spec.document.at("architectures").at(a.name), models::to_config(a.spec));
  }
  // Without iso_state the same sweep plans different keys (the written specs).
  const std::vector<PlannedRun> plain = plan_sweep(parse("name: iso\n" + kArchs));
  EXPECT_NE(plain[0].key, runs[0].key);
}

TEST(IsoSweep, ParameterTargetWithinTwoPercent) {
  const SweepSpec spec = parse("name: iso\niso_state: 4096\niso_params: 500000\n" + kArchs);
  for (const SweepArchitecture& a : spec.architectures) {
    SCOPED_TRACE(a.name);
    const models::ArchDescription d = describe_at(a.spec, spec.settings.front());
    EXPECT_EQ(d.total_state, 4096);
    EXPECT_LE(std::abs(static_cast<double>(d.params - 500000)), 0.02 * 500000);
    EXPECT_EQ(a.params, d.params);
  }
}

TEST(IsoSweep, BadInputNamesTheFileAndLine) {
  const std::pair<std::string, std::string> cases[] = {
      {"name: s\niso_state: 0\n" + kArchs, "spec.yml:2"},
      {"name: s\niso_params: 1000\n" + kArchs, "spec.yml:2"},
      {"name: s\niso_state: 4096\niso_params: -5\n" + kArchs, "spec.yml:3"},
      {"name: s\niso_state: 4096\narchitectures:\n  t: [mh-attention, swiglu]\nsettings: [{task: in-context-recall}]\n",
       "spec.yml:4"},
  };
  for (const auto& [yaml, where] : cases) {
    const std::string message = error_of([&] { parse(yaml); });
    EXPECT_NE(message.find(where), std::string::npos) << yaml << " -> '" << message << "'";
    EXPECT_NE(message.find("iso_"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace mad::sweeps
