#include "training/epoch_log.h"

#include <cerrno>
#include <cstring>

#include "config/canonical.h"
#include "core/error.h"

namespace mad {

namespace {

void set_split(config::Value& v, const std::string& split, const SplitMetrics& m) {
  v.set(split + "_loss", m.loss);
  v.set(split + "_ppl", m.ppl);
  v.set(split + "_acc", m.acc);
  v.set(split + "_token_acc", m.token_acc);
}

std::FILE* open_or_fail(const std::string& path, const char* mode) {
  std::FILE* f = std::fopen(path.c_str(), mode);
  MAD_CHECK(f, "{}: cannot write the epoch log ({}); give a path in a writable directory", path, std::strerror(errno));
  return f;
}

}  // namespace

config::Value epoch_json(const std::string& key, const EpochResult& e) {
  config::Value v = config::Value::map();
  v.set("key", config::Value(key));
  v.set("epoch", config::Value(e.epoch));
  v.set("lr", e.lr);
  set_split(v, "train", e.train);
  set_split(v, "test", e.test);
  v.set("seconds", e.seconds);
  return v;
}

EpochLog::EpochLog(std::string path, std::string key, TrainObserver* inner)
    : path_(std::move(path)), key_(std::move(key)), inner_(inner) {
  // Appending creates the file without touching what a resumed run wrote before.
  file_ = open_or_fail(path_, "a");
}

EpochLog::~EpochLog() {
  if (file_) std::fclose(file_);
}

void EpochLog::on_step(int64_t epoch, int64_t step, int64_t steps_per_epoch, double loss, double lr) {
  if (inner_) inner_->on_step(epoch, step, steps_per_epoch, loss, lr);
}

void EpochLog::on_epoch(const EpochResult& e, const TrainResult& so_far) {
  if (e.epoch == 1) {  // a run that starts over (not resumed) replaces an earlier log of its key
    std::fclose(file_);
    file_ = open_or_fail(path_, "w");
  }
  const std::string line = config::canonical(epoch_json(key_, e)) + "\n";
  MAD_CHECK(std::fputs(line.c_str(), file_) >= 0 && std::fflush(file_) == 0, "{}: writing the epoch log failed ({})",
            path_, std::strerror(errno));
  if (inner_) inner_->on_epoch(e, so_far);
}

}  // namespace mad
