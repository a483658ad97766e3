#include "apps/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mad::cli {
namespace {

double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string duration_text(double s) {
  if (s < 60) return fmt::format("{:.0f}s", s);
  if (s < 3600) return fmt::format("{:.0f}m{:02.0f}s", std::floor(s / 60), std::fmod(s, 60));
  return fmt::format("{:.0f}h{:02.0f}m", std::floor(s / 3600), std::fmod(s / 60, 60));
}

}  // namespace

ProgressLine::ProgressLine(int64_t epochs, int64_t tokens_per_step, bool quiet)
    : epochs_(epochs), tokens_per_step_(tokens_per_step), quiet_(quiet) {
  const char* term = std::getenv("TERM");
  live_ = !quiet && isatty(STDERR_FILENO) && term && std::strcmp(term, "dumb") != 0;
  epoch_start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressLine::clear() {
  if (drawn_) std::fputs("\r\x1b[2K", stderr);
  drawn_ = false;
}

void ProgressLine::on_step(int64_t epoch, int64_t step, int64_t steps, double loss, double lr) {
  const auto now = std::chrono::steady_clock::now();
  if (!live_ || (seconds(now - last_draw_) < 0.1 && step != steps)) return;
  last_draw_ = now;
  const double elapsed = seconds(now - epoch_start_);
  const double tok_s = elapsed > 0 ? static_cast<double>(step * tokens_per_step_) / elapsed : 0;
  // Until an epoch has finished, estimate from this epoch's pace.
  const double per_epoch = seconds_per_epoch_ > 0 ? seconds_per_epoch_ : elapsed * static_cast<double>(steps) / static_cast<double>(step);
  const double eta = per_epoch * static_cast<double>(epochs_ - epoch) + per_epoch * (1.0 - static_cast<double>(step) / static_cast<double>(steps));
  std::fprintf(stderr, "\r\x1b[2Kepoch %lld/%lld  step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s",
               static_cast<long long>(epoch), static_cast<long long>(epochs_), static_cast<long long>(step),
               static_cast<long long>(steps), loss, lr, tok_s, duration_text(eta).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::on_epoch(const EpochResult& e, const TrainResult&) {
  seconds_per_epoch_ = e.seconds;
  epoch_start_ = std::chrono::steady_clock::now();  // the next epoch's steps start now
  if (quiet_) return;
  clear();
  std::fprintf(stderr,
               "epoch %lld/%lld  train loss %.4f acc %.4f  test loss %.4f acc %.4f ppl %.3f  lr %.2e  %.1fs\n",
               static_cast<long long>(e.epoch), static_cast<long long>(epochs_), e.train.loss, e.train.acc, e.test.loss,
               e.test.acc, e.test.ppl, e.lr, e.seconds);
  std::fflush(stderr);
}

}  // namespace mad::cli
