// Statistical tests: our generators match the reference generator's statistics (the issue's "Done when"
// figures, measured on the reference code), and random choices are uniform where the reference's are.
//
// Each expectation is either exact (derived from the task's definition) or measured by running the
// reference code; a measurement agrees when it is within 4 standard errors (ours and, for measured
// references, theirs), so a test fails only on a real difference.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

#include "layout_check.h"
#include "tasks/dataset.h"
#include "tasks/protocol_grid.h"
#include "tasks/vocabulary.h"

namespace mad::tasks {
namespace {

struct Sample {
  double mean = 0, standard_error = 0;
};

Sample summarize(const std::vector<double>& values) {
  double sum = 0, sum_sq = 0;
  for (double v : values) sum += v, sum_sq += v * v;
  const auto n = static_cast<double>(values.size());
  const double mean = sum / n;
  const double variance = std::max(0.0, sum_sq / n - mean * mean) * n / (n - 1);
  return {mean, std::sqrt(variance / n)};
}

// |ours - reference| within 4 combined standard errors, plus `slack` for references given to a few digits.
void expect_agrees(const Sample& ours, double reference, double reference_se, const std::string& what,
                   double slack = 1e-3) {
  const double tolerance = 4 * std::hypot(ours.standard_error, reference_se) + slack;
  std::printf("%-45s ours %9.4f +- %.4f   expected %9.4f +- %.4f\n", what.c_str(), ours.mean, ours.standard_error,
              reference, reference_se);
  EXPECT_NEAR(ours.mean, reference, tolerance) << what << ": ours " << ours.mean << " +- " << ours.standard_error;
}

TaskSettings with_test_size(TaskSettings s, int64_t train, int64_t test) {
  s.num_train_examples = train;
  s.num_test_examples = test;
  return s;
}

std::vector<double> labelled_per_row(const TokenMatrix& targets) {
  std::vector<double> counts;
  for (int64_t r = 0; r < targets.rows; ++r) {
    const auto row = targets.row(r);
    counts.push_back(static_cast<double>(std::count_if(row.begin(), row.end(), [](int32_t t) { return t != kIgnoreIndex; })));
  }
  return counts;
}

// Expected labelled positions of a recall test sequence: values whose key was seen, plus the probe.
// With m key-value pairs over K keys, the expected number of distinct keys is K(1 - (1 - 1/K)^m). Noise
// makes m random: the protected pair (drawn from all L/2 slots) is in the loop with probability
// (P-1)/P, and every other loop pair survives with probability 1 - frac_noise.
double expected_recall_labels(const TaskSettings& s) {
  const double K = static_cast<double>(vocabulary(s).keys.size());
  const int64_t loop = s.seq_len / 2 - 1;  // pairs before the probe
  const auto expected_for = [&](int64_t m) { return m - K * (1 - std::pow(1 - 1 / K, m)) + 1; };
  if (s.frac_noise == 0) return expected_for(loop);
  const auto binomial_mean = [&](int64_t trials, int64_t offset) {
    double total = 0;
    for (int64_t k = 0; k <= trials; ++k) {
      const double log_pmf = std::lgamma(trials + 1.0) - std::lgamma(k + 1.0) - std::lgamma(trials - k + 1.0) +
                             k * std::log(1 - s.frac_noise) + (trials - k) * std::log(s.frac_noise);
      total += std::exp(log_pmf) * expected_for(k + offset);
    }
    return total;
  };
  const double p_protected = static_cast<double>(loop) / static_cast<double>(loop + 1);
  return p_protected * binomial_mean(loop - 1, 1) + (1 - p_protected) * binomial_mean(loop, 0);
}

TEST(Statistics, InContextRecallLabelledPositions) {
  // The issue's figures (reference code, test sequences).
  struct Case {
    int64_t vocab_size, seq_len;
    double issue;
  };
  for (const Case& c : {Case{16, 128, 56}, Case{16, 256, 120}, Case{16, 512, 248}, Case{16, 1024, 504},
                        Case{32, 128, 48.3}, Case{64, 128, 36.4}, Case{128, 128, 23.5}}) {
    TaskSettings s = with_test_size(protocol_grid(TaskId::InContextRecall).baseline, 1, 5000);
    s.vocab_size = c.vocab_size;
    s.seq_len = c.seq_len;
    const double expected = expected_recall_labels(s);
    // Our expectation is the issue's figure to within its rounding (23.72 is reported as "about 23.5").
    EXPECT_NEAR(expected, c.issue, 0.015 * c.issue) << "V=" << c.vocab_size << " L=" << c.seq_len;
    expect_agrees(summarize(labelled_per_row(generate_dataset(s).test.targets)), expected, 0,
                  fmt::format("in-context recall V={} L={}", c.vocab_size, c.seq_len));
  }
}

TEST(Statistics, NoisyInContextRecallLabelledPositions) {
  // The issue's figures; the reference code gave 43.66, 31.24, 19.07, 7.89 (4000 sequences each).
  for (const auto& [frac_noise, issue] : {std::pair{0.2, 43.5}, {0.4, 31.3}, {0.6, 18.7}, {0.8, 7.8}}) {
    TaskSettings s = with_test_size(protocol_grid(TaskId::NoisyInContextRecall).baseline, 1, 8000);
    s.frac_noise = frac_noise;
    const double expected = expected_recall_labels(s);
    EXPECT_NEAR(expected, issue, 0.025 * issue) << "frac_noise " << frac_noise;
    expect_agrees(summarize(labelled_per_row(generate_dataset(s).test.targets)), expected, 0,
                  fmt::format("noisy recall frac_noise={}", frac_noise));
  }
}

// The probe key is drawn uniformly from the distinct keys shown, not in proportion to how often they
// were shown: given a sequence with D distinct keys among m pairs, the probe's expected number of earlier
// occurrences is m / D.
TEST(Statistics, RecallProbeIsUniformOverDistinctKeys) {
  TaskSettings s = with_test_size(protocol_grid(TaskId::InContextRecall).baseline, 1, 20000);
  s.vocab_size = 128;
  const Dataset data = generate_dataset(s);
  std::vector<double> excess;
  for (int64_t r = 0; r < data.test.inputs.rows; ++r) {
    const auto x = data.test.inputs.row(r);
    const size_t probe_at = x.size() - 1;
    std::set<int32_t> distinct;
    double occurrences = 0;
    for (size_t p = 0; p < probe_at; p += 2) {
      distinct.insert(x[p]);
      occurrences += x[p] == x[probe_at];
    }
    excess.push_back(occurrences - static_cast<double>(probe_at / 2) / static_cast<double>(distinct.size()));
  }
  expect_agrees(summarize(excess), 0.0, 0, "probe occurrences minus m/D");
}

TEST(Statistics, FuzzyRecallLabelsUnanswerableProbesAndPadding) {
  // Measured on the reference code (V=16, L=128, k_motif=v_motif=3): 4.365 +- 0.028 labelled tokens and
  // 2.30% +- 0.18% unanswerable probes per test sequence (7000 sequences), 4.936 +- 0.020 padding tokens
  // per test sequence and, over 6000 train sequences, 1.75% +- 0.17% unanswerable probes and 5.343 +- 0.018
  // padding tokens. The issue: "about 4.4 labelled tokens and about 2% unanswerable probes".
  const TaskSettings s = with_test_size(protocol_grid(TaskId::FuzzyInContextRecall).baseline, 20000, 20000);
  const Dataset data = generate_dataset(s);
  const auto stats = [&](const SplitData& split_data, Split split) {
    std::vector<double> unanswerable, pads;
    for (int64_t r = 0; r < split_data.inputs.rows; ++r) {
      const auto x = split_data.inputs.row(r);
      unanswerable.push_back(!testing::fuzzy_probe_answerable(s, split, x, split_data.targets.row(r)));
      pads.push_back(static_cast<double>(std::count(x.begin(), x.end(), vocabulary(s).pad)));
    }
    return std::pair{summarize(unanswerable), summarize(pads)};
  };
  expect_agrees(summarize(labelled_per_row(data.test.targets)), 4.365, 0.028, "fuzzy labelled tokens");
  const auto [test_unanswerable, test_pads] = stats(data.test, Split::Test);
  expect_agrees(test_unanswerable, 0.0230, 0.0018, "fuzzy unanswerable test probes");
  expect_agrees(test_pads, 4.936, 0.020, "fuzzy test padding");
  const auto [train_unanswerable, train_pads] = stats(data.train, Split::Train);
  expect_agrees(train_unanswerable, 0.0175, 0.0017, "fuzzy unanswerable train probes");
  expect_agrees(train_pads, 5.343, 0.018, "fuzzy train padding");
}

TEST(Statistics, MemorizationFactRepetitions) {
  // The issue: each fact appears about 32, 16, 8, 4, 2, 1 times in the 256-sequence train set.
  const std::vector<std::pair<int64_t, double>> cases = {{256, 32}, {512, 16},  {1024, 8},
                                                         {2048, 4}, {4096, 2}, {8192, 1}};
  for (const auto& [vocab_size, issue] : cases) {
    TaskSettings s = protocol_grid(TaskId::Memorization).baseline;
    s.vocab_size = vocab_size;
    const Dataset data = generate_dataset(s);
    const int64_t keys = vocabulary(s).keys.size();
    std::vector<int64_t> count(static_cast<size_t>(keys));
    for (int32_t token : data.train.inputs.data) {
      if (token != vocabulary(s).insert) ++count[static_cast<size_t>(token)];
    }
    const double draws = static_cast<double>(data.train.inputs.data.size() / 2);
    EXPECT_NEAR(draws / static_cast<double>(keys), issue, 0.03 * issue) << "V=" << vocab_size;
    // Keys are uniform: the fraction never drawn is (1 - 1/K)^draws.
    std::vector<double> unseen;
    for (int64_t c : count) unseen.push_back(c == 0);
    expect_agrees(summarize(unseen), std::pow(1 - 1.0 / static_cast<double>(keys), draws), 0,
                  fmt::format("memorization V={} unseen facts", vocab_size));
  }
}

// Blanks are inserted before a uniformly chosen data token: (L - 2n - 1) / n blanks before each.
TEST(Statistics, SelectiveCopyingBlankPlacement) {
  const TaskSettings s = with_test_size(protocol_grid(TaskId::SelectiveCopying).baseline, 4000, 1);
  const Dataset data = generate_dataset(s);
  const int32_t blank = vocabulary(s).blank;
  const int64_t n = s.num_tokens_to_copy;
  const double expected = static_cast<double>(s.seq_len - 2 * n - 1) / static_cast<double>(n);
  std::vector<std::vector<double>> gaps(static_cast<size_t>(n));
  for (int64_t r = 0; r < data.train.inputs.rows; ++r) {
    const auto x = data.train.inputs.row(r);
    size_t slot = 0;
    double run = 0;
    for (size_t p = 0; slot < static_cast<size_t>(n); ++p) {
      if (x[p] == blank) {
        ++run;
      } else {
        gaps[slot++].push_back(run);
        run = 0;
      }
    }
  }
  for (size_t slot : {size_t{0}, static_cast<size_t>(n / 2), static_cast<size_t>(n - 1)}) {
    expect_agrees(summarize(gaps[slot]), expected, 0, fmt::format("blanks before data token {}", slot));
  }
}

// Data tokens of compression and selective copying are uniform over the data range.
TEST(Statistics, DataTokensAreUniform) {
  for (TaskId task : {TaskId::Compression, TaskId::SelectiveCopying}) {
    const TaskSettings s = with_test_size(protocol_grid(task).baseline, 4000, 1);
    const Dataset data = generate_dataset(s);
    const TokenRange range = vocabulary(s).data;
    std::vector<double> is_zero, value;
    for (int64_t r = 0; r < data.train.targets.rows; ++r) {
      for (int32_t t : data.train.targets.row(r)) {
        if (!range.contains(t)) continue;
        is_zero.push_back(t == range.begin);
        value.push_back(t);
      }
    }
    const auto n = static_cast<double>(range.size());
    expect_agrees(summarize(is_zero), 1 / n, 0, fmt::format("{} frequency of token 0", task_info(task).name));
    expect_agrees(summarize(value), (n - 1) / 2, 0, fmt::format("{} mean data token", task_info(task).name));
  }
}

}  // namespace
}  // namespace mad::tasks
