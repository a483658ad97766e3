// Data written by the reference code (fixtures/reference/, see fixtures/README.md): read through the
// reference directory names and held to the same layout checks as our generators, so those checks (and
// our reading of the layouts) agree with the reference's output.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "layout_check.h"
#include "tasks/data_dir.h"
#include "tasks/dataset_name.h"
#include "test_util.h"

namespace mad::tasks {
namespace {

namespace fs = std::filesystem;

TEST(ReferenceData, EveryTaskReadsAndPassesTheLayoutChecks) {
  int directories = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(testing::fixtures_dir() / "reference")) {
    const fs::path dir = entry.path();
    const std::optional<TaskSettings> settings = settings_for_dir(dir);
    ASSERT_TRUE(settings.has_value()) << dir;
    EXPECT_EQ(dataset_dir_name(*settings), dir.filename().string());
    const Dataset data = read_dataset_dir(dir, settings);
    std::map<int32_t, int32_t> memorized;
    for (const auto& [split, part] : {std::pair{Split::Train, &data.train}, std::pair{Split::Test, &data.test}}) {
      for (int64_t r = 0; r < part->inputs.rows; ++r) {
        EXPECT_EQ(testing::check_sequence(*settings, split, part->inputs.row(r), part->targets.row(r)), "")
            << dir.filename() << (split == Split::Train ? " train" : " test") << " row " << r;
        if (settings->task == TaskId::Memorization) {
          EXPECT_EQ(testing::check_memorization_map(part->inputs.row(r), part->targets.row(r), memorized), "");
        }
      }
    }
    ++directories;
  }
  EXPECT_EQ(directories, 6);
}

}  // namespace
}  // namespace mad::tasks
