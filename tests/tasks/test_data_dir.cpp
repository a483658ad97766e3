// Dataset directories: the reference layout, settings.json, reference names, and inconsistent files.
#include <gtest/gtest.h>

#include <filesystem>

#include "tasks/data_dir.h"
#include "tasks/dataset_name.h"
#include "tasks/npy.h"
#include "tasks/protocol_grid.h"
#include "test_util.h"

namespace mad::tasks {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::TempDir;

TaskSettings small_recall() {
  TaskSettings s = protocol_grid(TaskId::InContextRecall).baseline;
  s.num_train_examples = 20;
  s.num_test_examples = 10;
  s.seq_len = 16;
  return s;
}

TEST(DataDir, WriteThenReadWithSettingsFile) {
  TempDir tmp("data_dir_round_trip");
  const fs::path dir = tmp.path() / "anything";
  const TaskSettings s = small_recall();
  const Dataset data = generate_dataset(s);
  write_dataset_dir(dir, data, s, false);
  for (const char* file : {"train/inputs.npy", "train/targets.npy", "test/inputs.npy", "test/targets.npy",
                           kSettingsFileName}) {
    EXPECT_TRUE(fs::is_regular_file(dir / file)) << file;
  }
  const std::optional<TaskSettings> found = settings_for_dir(dir);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, s);
  const Dataset back = read_dataset_dir(dir, found);
  EXPECT_EQ(back.train.inputs, data.train.inputs);
  EXPECT_EQ(back.train.targets, data.train.targets);
  EXPECT_EQ(back.test.inputs, data.test.inputs);
  EXPECT_EQ(back.test.targets, data.test.targets);

  EXPECT_EQ(error_of([&] { write_dataset_dir(dir, data, s, false); }),
            dir.string() + " already holds a dataset (train/inputs.npy exists); choose another directory or "
                           "overwrite it (--force)");
  EXPECT_NO_THROW(write_dataset_dir(dir, data, s, true));
}

TEST(DataDir, SettingsFromTheReferenceName) {
  TempDir tmp("data_dir_names");
  const TaskSettings s = small_recall();
  const fs::path dir = tmp.path() / dataset_dir_name(s);
  write_dataset_dir(dir, generate_dataset(s), s, false);
  fs::remove(dir / kSettingsFileName);
  EXPECT_EQ(settings_for_dir(dir), s);
  EXPECT_EQ(settings_for_dir(dir.string() + "/"), s);
  EXPECT_EQ(settings_for_dir(tmp.path() / "plain-name"), std::nullopt);
}

class BrokenDataDir : public ::testing::Test {
 protected:
  void SetUp() override {
    write_dataset_dir(dir(), generate_dataset(settings_), settings_, false);
  }
  fs::path dir() const { return tmp_.path() / "data"; }
  std::string read_error() const { return error_of([&] { read_dataset_dir(dir(), settings_); }); }
  // Replaces one file with `m`.
  void replace(const char* file, const TokenMatrix& m) const { write_npy(dir() / file, m); }
  TokenMatrix read(const char* file) const { return read_npy(dir() / file); }

  TempDir tmp_{"data_dir_broken"};
  TaskSettings settings_ = small_recall();
};

TEST_F(BrokenDataDir, IntactDirectoryReads) { EXPECT_EQ(read_error(), ""); }

TEST_F(BrokenDataDir, MissingFile) {
  fs::remove(dir() / "test" / "targets.npy");
  EXPECT_EQ(read_error(), (dir() / "test" / "targets.npy").string() +
                              ": missing (a dataset directory holds train/ and test/, each with inputs.npy and "
                              "targets.npy)");
  EXPECT_EQ(error_of([&] { read_dataset_dir(tmp_.path() / "nothing", std::nullopt); }),
            "dataset directory '" + (tmp_.path() / "nothing").string() + "' does not exist");
}

TEST_F(BrokenDataDir, InputsAndTargetsOfDifferentShapes) {
  TokenMatrix targets = read("train/targets.npy");
  targets.rows -= 1;
  targets.data.resize(static_cast<size_t>(targets.rows * targets.cols));
  replace("train/targets.npy", targets);
  EXPECT_EQ(read_error(), (dir() / "train" / "targets.npy").string() + ": shape [19, 15] differs from " +
                              (dir() / "train" / "inputs.npy").string() +
                              " [20, 15]; inputs and targets must have the same shape");
}

TEST_F(BrokenDataDir, TokensOutsideTheVocabulary) {
  TokenMatrix inputs = read("test/inputs.npy");
  inputs.data[17] = 16;
  replace("test/inputs.npy", inputs);
  EXPECT_EQ(read_error(), (dir() / "test" / "inputs.npy").string() +
                              ": token 16 at row 1, position 2 is outside the vocabulary [0, 16) of "
                              "in-context-recall (vocab_size 16)");
  // Without settings there is no vocabulary to check against.
  EXPECT_NO_THROW(read_dataset_dir(dir(), std::nullopt));
}

TEST_F(BrokenDataDir, NegativeTargetOtherThanIgnore) {
  TokenMatrix targets = read("train/targets.npy");
  targets.data[0] = -1;
  replace("train/targets.npy", targets);
  EXPECT_EQ(read_error(), (dir() / "train" / "targets.npy").string() +
                              ": token -1 at row 0, position 0 is outside the vocabulary [0, 16) of "
                              "in-context-recall (vocab_size 16); ignored targets must be -100");
}

TEST_F(BrokenDataDir, LengthOrCountDisagreesWithSettings) {
  TaskSettings other = settings_;
  other.seq_len = 32;
  EXPECT_EQ(error_of([&] { read_dataset_dir(dir(), other); }),
            (dir() / "train" / "inputs.npy").string() +
                ": sequences of length 15, but in-context-recall with seq_len 32 has length 31");
  other = settings_;
  other.num_test_examples = 11;
  EXPECT_EQ(error_of([&] { read_dataset_dir(dir(), other); }),
            (dir() / "test" / "inputs.npy").string() + ": 10 sequences, but the settings say num_test_examples=11");
}

TEST_F(BrokenDataDir, SplitsOfDifferentLengths) {
  replace("test/inputs.npy", TokenMatrix(10, 3));
  replace("test/targets.npy", TokenMatrix(10, 3));
  EXPECT_EQ(error_of([&] { read_dataset_dir(dir(), std::nullopt); }),
            dir().string() + ": train sequences have length 15 but test sequences 3; both splits must have the "
                             "same length");
}

}  // namespace
}  // namespace mad::tasks
