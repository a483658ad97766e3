// Sweep specs: the shipped specs expand to the protocol's counts, defaults are the protocol's, and every
// kind of malformed spec is a one-line error naming the problem.
#include <gtest/gtest.h>

#include <fstream>

#include "config/yaml.h"
#include "tests/support/test_util.h"
#include "sweeps/sweep_plan.h"

namespace mad::sweeps {
namespace {

using testing::error_of;

const std::filesystem::path kSweeps = std::filesystem::path(MAD_SOURCE_DIR) / "configs" / "sweeps";

SweepSpec parse(const std::string& yaml) { return sweep_from_config(config::load_string(yaml, "spec.yml"), "."); }

TEST(SweepSpec, FullProtocolForOneArchitectureIs396Runs) {
  const SweepSpec spec = load_sweep(kSweeps / "mad-transformer.yml");
  EXPECT_EQ(spec.settings.size(), 66u);
  EXPECT_EQ(plan_sweep(spec).size(), 396u);
}

TEST(SweepSpec, QuickDemoIsAttentionAgainstASlidingWindowOverThreeSeeds) {
  const SweepSpec spec = load_sweep(kSweeps / "quick.yml");
  ASSERT_EQ(spec.architectures.size(), 2u);
  EXPECT_EQ(spec.seeds, (std::vector<int64_t>{1, 2, 3}));
  ASSERT_EQ(spec.settings.size(), 3u);  // one setting per seed
  for (const tasks::TaskSettings& s : spec.settings) EXPECT_EQ(s.task, tasks::TaskId::InContextRecall);
  EXPECT_EQ(plan_sweep(spec).size(), 6u);
}

TEST(SweepSpec, DefaultsAreTheProtocols) {
  const SweepSpec spec = parse("name: s\narchitectures: {t: [mh-attention, swiglu]}\n");
  EXPECT_EQ(spec.lrs, (std::vector<double>{1e-4, 5e-4, 1e-3}));
  EXPECT_EQ(spec.weight_decays, (std::vector<double>{0.0, 0.1}));
  EXPECT_EQ(spec.seeds, (std::vector<int64_t>{12345}));
  EXPECT_EQ(spec.epochs, 200);
  EXPECT_EQ(spec.batch_size, 128);
  EXPECT_EQ(spec.settings.size(), 66u);
  EXPECT_EQ(spec.architectures[0].spec.dim, 128);
  EXPECT_EQ(spec.precision, "f32");
}

TEST(SweepSpec, WeightDecayGroupsReachEveryRunAndItsKeyOnlyWhenNotAll) {
  const std::string base = "name: s\narchitectures: {t: [swiglu]}\ntasks: [memorization]\nprotocol: baselines\n";
  const std::vector<PlannedRun> plain = plan_sweep(parse(base)), all = plan_sweep(parse(base + "weight_decay_groups: all\n")),
                                nnb = plan_sweep(parse(base + "weight_decay_groups: no_norm_bias\n"));
  ASSERT_EQ(plain.size(), nnb.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].training.weight_decay_groups, "all");
    EXPECT_EQ(plain[i].key, all[i].key);
    EXPECT_EQ(nnb[i].training.weight_decay_groups, "no_norm_bias");
    EXPECT_NE(plain[i].key, nnb[i].key);
  }
}

TEST(SweepSpec, ShippedWeightDecayGroupsSpecIsNoNormBiasOnTwoArchitectures) {
  const std::vector<PlannedRun> runs = plan_sweep(load_sweep(kSweeps / "weight-decay-groups.yml"));
  EXPECT_EQ(runs.size(), 2u * 6u * 3u);  // transformer and mamba x six baselines x three learning rates
  for (const PlannedRun& run : runs) EXPECT_EQ(run.training.weight_decay_groups, "no_norm_bias");
}

TEST(SweepSpec, PrecisionReachesEveryRunAndItsKey) {
  const std::string base = "name: s\narchitectures: {t: [swiglu]}\ntasks: [memorization]\nprotocol: baselines\n";
  const std::vector<PlannedRun> f32 = plan_sweep(parse(base)), bf16 = plan_sweep(parse(base + "precision: bf16\n"));
  ASSERT_EQ(f32.size(), bf16.size());
  for (size_t i = 0; i < f32.size(); ++i) {
    EXPECT_EQ(f32[i].training.precision, "f32");
    EXPECT_EQ(bf16[i].training.precision, "bf16");
    EXPECT_NE(f32[i].key, bf16[i].key);
  }
}

TEST(SweepSpec, BaselinesTasksShorthandsSeedsAndOverrides) {
  const SweepSpec spec = parse(
      "name: s\narchitectures: {t: [swiglu]}\ntasks: [CR, memorization]\nprotocol: baselines\n"
      "task_overrides: {num_test_examples: 64}\nseeds: [1, 2]\n");
  ASSERT_EQ(spec.settings.size(), 4u);  // 2 baselines x 2 seeds
  EXPECT_EQ(spec.settings[0].task, tasks::TaskId::InContextRecall);
  EXPECT_EQ(spec.settings[0].seed, 1);
  EXPECT_EQ(spec.settings[1].seed, 2);
  EXPECT_EQ(spec.settings[3].task, tasks::TaskId::Memorization);
  for (const auto& s : spec.settings) EXPECT_EQ(s.num_test_examples, 64);
}

// mqar is not in the protocol (a spec without tasks: is the 66 MAD settings) but is reachable by name:
// its own grid (configs/tasks/mqar.yml), its baseline, or explicit settings starting from that baseline.
TEST(SweepSpec, MqarByNameOutsideTheProtocol) {
  const SweepSpec all = parse("name: s\narchitectures: {t: [swiglu]}\n");
  ASSERT_EQ(all.settings.size(), 66u);
  for (const auto& s : all.settings) EXPECT_NE(s.task, tasks::TaskId::Mqar);
  const SweepSpec grid = parse("name: s\narchitectures: {t: [swiglu]}\ntasks: [mqar]\n");
  ASSERT_EQ(grid.settings.size(), 8u);
  for (const auto& s : grid.settings) EXPECT_EQ(s.task, tasks::TaskId::Mqar);
  const SweepSpec baseline = parse("name: s\narchitectures: {t: [swiglu]}\ntasks: [MQAR, CR]\nprotocol: baselines\n");
  ASSERT_EQ(baseline.settings.size(), 2u);
  EXPECT_EQ(baseline.settings[0].num_kv_pairs, 8);
  const SweepSpec explicit_settings =
      parse("name: s\narchitectures: {t: [swiglu]}\nsettings: [{task: mqar, num_kv_pairs: 16, power_a: 0.5}]\n");
  ASSERT_EQ(explicit_settings.settings.size(), 1u);
  EXPECT_EQ(explicit_settings.settings[0].num_kv_pairs, 16);
  EXPECT_EQ(explicit_settings.settings[0].power_a, 0.5);
  EXPECT_EQ(explicit_settings.settings[0].vocab_size, 512);  // from mqar's baseline
  EXPECT_NE(error_of([] {
              parse("name: s\narchitectures: {t: [swiglu]}\nsettings: [{task: compression, num_kv_pairs: 16}]\n");
            }).find("setting num_kv_pairs=16 is not used by compression"),
            std::string::npos);
}

TEST(SweepSpec, OverridesThatMakeSettingsEqualRunThemOnce) {
  // The in-context-recall grid varies num_train_examples over 5 values; overriding it leaves 7 settings.
  const SweepSpec spec = parse("name: s\narchitectures: {t: [swiglu]}\ntasks: [in-context-recall]\n"
                               "task_overrides: {num_train_examples: 100}\n");
  EXPECT_EQ(spec.settings.size(), 11u - 4u);
}

TEST(SweepSpec, ExplicitSettingsStartFromTheTaskBaseline) {
  const SweepSpec spec = parse("name: s\narchitectures: {t: [swiglu]}\n"
                               "settings: [{task: noisy-in-context-recall, seq_len: 256}]\n");
  ASSERT_EQ(spec.settings.size(), 1u);
  EXPECT_EQ(spec.settings[0].seq_len, 256);
  EXPECT_EQ(spec.settings[0].noise_vocab_size, 16);  // from the noisy task's baseline
  EXPECT_EQ(setting_label(spec.settings[0]), "noisy-in-context-recall seq_len=256");
}

TEST(SweepSpec, ArchitecturesFromListsSpecsAndFiles) {
  testing::TempDir dir("sweep_spec_files");
  {
    std::ofstream f(dir.file("arch.yml"));
    f << "dim: 64\nlayers: [{type: mh-attention, n_heads: 4}, swiglu]\n";
  }
  const SweepSpec spec = sweep_from_config(
      config::load_string("name: s\narchitectures:\n  a: [swiglu]\n  b: {dim: 32, layers: [mlp]}\n  c: {file: arch.yml}\n",
                          "spec.yml"),
      dir.path());
  ASSERT_EQ(spec.architectures.size(), 3u);
  EXPECT_EQ(spec.architectures[1].spec.dim, 32);
  EXPECT_EQ(spec.architectures[2].spec.dim, 64);
  EXPECT_EQ(spec.architectures[2].name, "c");
  EXPECT_EQ(spec.architectures[2].spec.layers[0].config.get<int64_t>("n_heads"), 4);
}

TEST(SweepSpec, MalformedSpecsAreErrorsNamingTheProblem) {
  const std::string arch = "architectures: {t: [swiglu]}\n";
  const std::pair<std::string, std::string> cases[] = {
      {"name: s\n" + arch + "epoch: 3\n", "epoch"},                       // unknown key (typo)
      {"name: s\narchitectures: {t: [swiglu, nope]}\n", "nope"},          // unknown layer
      {"name: s\narchitectures: {t: {layers: [swiglu], width: 3}}\n", "width"},  // unknown architecture field
      {"name: s\narchitectures: {}\n", "at least one"},                   // no architecture
      {"name: s\n" + arch + "lr: []\n", "'lr' is empty"},                 // empty grid
      {"name: s\n" + arch + "weight_decay: []\n", "'weight_decay' is empty"},
      {"name: s\n" + arch + "tasks: [recall]\n", "unknown task 'recall'"},
      {"name: s\n" + arch + "protocol: full\n", "unknown protocol 'full'"},
      {"name: s\n" + arch + "settings: [{task: in-context-recall, seq_len: 3}]\n", "seq_len"},  // invalid setting
      {"name: s\n" + arch + "protocol: mad\nsettings: [{task: compression}]\n", "not both"},
      {"name: s\n" + arch + "task_overrides: {seed: 3}\n", "use 'seeds'"},
      {"name: s\n" + arch + "epochs: 0\n", "epochs must be positive"},
      {"name: s\n" + arch + "precision: fp16\n", "precision must be f32 or bf16"},
      {"name: s\n" + arch + "weight_decay_groups: none\n", "weight_decay_groups must be all or no_norm_bias"},
      {arch, "name"},  // no name
  };
  for (const auto& [yaml, fragment] : cases) {
    const std::string message = error_of([&] { parse(yaml); });
    EXPECT_NE(message.find(fragment), std::string::npos) << yaml << " -> '" << message << "'";
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(SweepSpec, ErrorsNameTheSpecFileAndLine) {
  const std::string message = error_of([] { parse("name: s\narchitectures: {t: [swiglu]}\nlr: []\n"); });
  EXPECT_NE(message.find("spec.yml:3"), std::string::npos) << message;
}

}  // namespace
}  // namespace mad::sweeps
