#include "training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/budget.h"
#include "core/ops.h"
#include "core/rng.h"
#include "training/schedule.h"

namespace mad {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Copies rows `order[begin..end)` of a [N, L] token matrix into `batch` [end-begin, L].
void gather_rows(const Tensor& src, std::span<const int64_t> order, int64_t begin, int64_t end, const Tensor& batch) {
  const int64_t L = src.dim(1);
  const int32_t* s = src.data<int32_t>();
  int32_t* d = batch.data<int32_t>();
  for (int64_t i = begin; i < end; ++i)
    std::memcpy(d + (i - begin) * L, s + order[static_cast<size_t>(i)] * L, static_cast<size_t>(L) * sizeof(int32_t));
}

// Loss and accuracies of one batch; logits [B, L, V].
struct BatchOutcome {
  double loss;
  BatchAccuracy acc;
};

BatchOutcome score_batch(Var logits, Var loss, const Tensor& targets, std::vector<int64_t>& counters) {
  const int64_t V = logits.dim(-1);
  const Tensor flat = logits.value().reshape({logits.value().numel() / V, V});
  return {loss.value().item(), batch_accuracy(flat, targets.span<int32_t>(), counters)};
}

// The arena memory of one training step (forward and backward) on the first `rows` training sequences, on a
// tape of its own so that the trainer's arena and results are untouched. The gradients it leaves in the
// parameter block are zeroed by every real step before it runs.
size_t probe_step_memory(Module& model, const TrainData& data, int64_t rows) {
  Tape tape(size_t(1) << 16);
  tape.set_free_in_backward(true);
  const int64_t L = data.train_inputs.dim(1);
  const Tensor x = data.train_inputs.rows(0, rows), t = data.train_targets.rows(0, rows).reshape({rows * L});
  Var logits = model.logits(tape, x);
  Var loss = cross_entropy(reshape(logits, {rows * L, logits.dim(-1)}), t, kIgnoreIndex);
  tape.backward(loss);
  return tape.arena().high_water();
}

}  // namespace

Trainer::Trainer(Module& model, const TrainData& data, const TrainConfig& config)
    : model_(model), data_(data), config_(config),
      optimizer_(model.params(), {.lr = config.lr, .weight_decay = config.weight_decay, .weight_decay_groups = config.weight_decay_groups}) {
  MAD_CHECK(config.epochs >= 1, "train: epochs must be at least 1, got {}", config.epochs);
  MAD_CHECK(config.batch_size >= 1, "train: batch size must be at least 1, got {}", config.batch_size);
  MAD_CHECK(config.lr > 0 && config.min_lr >= 0 && config.min_lr <= config.lr,
            "train: need lr > 0 and 0 <= min_lr <= lr, got lr {} and min_lr {}", config.lr, config.min_lr);
  MAD_CHECK(config.weight_decay >= 0, "train: weight decay must be >= 0, got {}", config.weight_decay);
  check_data();
  // A batch is scored before its backward, so nothing reads the step's intermediates after it.
  tape_.set_free_in_backward(true);
}

void Trainer::check_data() const {
  const TrainData& d = data_;
  for (const Tensor* t : {&d.train_inputs, &d.train_targets, &d.test_inputs, &d.test_targets})
    MAD_CHECK(t->defined() && t->dtype() == DType::I32 && t->rank() == 2, "train: token matrices must be int32 [N, L]");
  MAD_CHECK(d.train_inputs.shape() == d.train_targets.shape() && d.test_inputs.shape() == d.test_targets.shape(),
            "train: inputs and targets differ in shape (train {} vs {}, test {} vs {})", d.train_inputs.shape().str(),
            d.train_targets.shape().str(), d.test_inputs.shape().str(), d.test_targets.shape().str());
  MAD_CHECK(d.train_inputs.dim(0) > 0 && d.test_inputs.dim(0) > 0, "train: the train and test sets must not be empty");
}

SplitMetrics Trainer::evaluate(const Tensor& inputs, const Tensor& targets) {
  const kernels::PrecisionScope precision(config_.precision);
  const int64_t N = inputs.dim(0), L = inputs.dim(1), B = config_.batch_size;
  EpochAccumulator acc;
  for (int64_t begin = 0; begin < N; begin += B) {
    const int64_t end = std::min(N, begin + B);
    tape_.reset();
    NoGradGuard no_grad(tape_);
    // Contiguous rows: views, no copy.
    const Tensor x = inputs.rows(begin, end), t = targets.rows(begin, end).reshape({(end - begin) * L});
    Var logits = model_.logits(tape_, x);
    Var loss = cross_entropy(reshape(logits, {(end - begin) * L, logits.dim(-1)}), t, kIgnoreIndex);
    const BatchOutcome o = score_batch(logits, loss, t, counters_);
    acc.add(end - begin, o.loss, o.acc);
  }
  tape_.reset();
  return acc.result();
}

void Trainer::check_step_memory() {
  // Before the first full step: a step's activations grow linearly with the batch (per-sequence tensors)
  // on top of a part that does not (weight-shaped temporaries, filters), so steps on one and on two
  // sequences give both, and their sum at the real batch size is the step's need. Above the budget the run
  // stops here with one line, before anything of that size is allocated. (The arena also refuses to grow
  // past the budget, so an estimate that is too low cannot take the machine down either.)
  const int64_t B = std::min(config_.batch_size, data_.train_inputs.dim(0));
  if (B <= 2) return;
  const kernels::PrecisionScope precision(config_.precision);
  const auto one = static_cast<int64_t>(probe_step_memory(model_, data_, 1));
  const auto two = static_cast<int64_t>(probe_step_memory(model_, data_, 2));
  const int64_t per_sequence = std::max<int64_t>(two - one, 0), fixed = std::max<int64_t>(one - per_sequence, 0);
  const int64_t need = checked_add(fixed, checked_mul(per_sequence, B, "batch_size x one sequence's activations"),
                                   "one training step's activations");
  if (need > memory_budget())
    check_memory(need, fmt::format("one training step's activations (estimated: {} per sequence x batch_size {}, plus {})",
                                   format_bytes(per_sequence), B, format_bytes(fixed)),
                 "reduce batch_size or seq_len (or the model's dim or layers), or raise --max-memory");
}

TrainResult Trainer::run(TrainObserver* observer) {
  const kernels::PrecisionScope precision(config_.precision);
  const auto start = Clock::now();
  ParamStore& params = model_.params();
  const int64_t N = data_.train_inputs.dim(0), L = data_.train_inputs.dim(1), B = config_.batch_size;
  const int64_t steps = (N + B - 1) / B;
  // Batch buffers, allocated once: full batches and the (possibly smaller) last one.
  const Tensor x_full = Tensor::zeros({std::min(B, N), L}, DType::I32), t_full = Tensor::zeros({std::min(B, N) * L}, DType::I32);
  const int64_t tail = N % B;
  const Tensor x_tail = tail ? Tensor::zeros({tail, L}, DType::I32) : Tensor(), t_tail = tail ? Tensor::zeros({tail * L}, DType::I32) : Tensor();
  std::vector<int64_t> order(static_cast<size_t>(N));
  optimizer_.set_steps(state_.optimizer_steps);

  TrainResult result;
  result.epochs = state_.history;
  auto best_of = [&](const std::vector<EpochResult>& h) {
    int64_t best = 0;
    for (const EpochResult& e : h)
      if (best == 0 || e.test.ppl < h[static_cast<size_t>(best - 1)].test.ppl) best = e.epoch;
    return best;
  };
  result.best_epoch = best_of(result.epochs);
  bool stop = !result.epochs.empty() && result.epochs.back().test.acc > config_.stop_accuracy;

  const int64_t last_epoch =
      config_.stop_after_epoch > 0 ? std::min(config_.stop_after_epoch, config_.epochs) : config_.epochs;
  if (state_.epochs_done < last_epoch && !stop) check_step_memory();
  for (int64_t epoch = state_.epochs_done; epoch < last_epoch && !stop; ++epoch) {
    const auto epoch_start = Clock::now();
    const double lr = cosine_lr(config_.lr, config_.min_lr, epoch, config_.epochs);
    // The epoch's order depends only on the seed and the epoch number, so a resumed run sees the same data.
    std::iota(order.begin(), order.end(), 0);
    Rng(config_.seed).split(static_cast<uint64_t>(epoch)).shuffle(std::span<int64_t>(order));
    EpochAccumulator train_acc;
    for (int64_t step = 0; step < steps; ++step) {
      const int64_t begin = step * B, end = std::min(N, begin + B);
      const bool is_tail = end - begin < B;
      const Tensor& x = is_tail ? x_tail : x_full;
      const Tensor& t = is_tail ? t_tail : t_full;
      gather_rows(data_.train_inputs, order, begin, end, x);
      gather_rows(data_.train_targets, order, begin, end, t.reshape({end - begin, L}));
      tape_.reset();
      params.zero_grad();
      Var logits = model_.logits(tape_, x);
      Var loss = cross_entropy(reshape(logits, {(end - begin) * L, logits.dim(-1)}), t, kIgnoreIndex);
      const BatchOutcome o = score_batch(logits, loss, t, counters_);
      if (!std::isfinite(o.loss)) {
        result.status = "diverged";
        result.message = fmt::format("loss became {} at epoch {}, step {}", o.loss, epoch + 1, step + 1);
        stop = true;
        break;
      }
      tape_.backward(loss);
      optimizer_.step(lr);
      train_acc.add(end - begin, o.loss, o.acc);
      if (observer) observer->on_step(epoch + 1, step + 1, steps, o.loss, lr);
    }
    tape_.reset();
    if (result.status == "diverged") break;

    EpochResult e;
    e.epoch = epoch + 1;
    e.lr = lr;
    e.train = train_acc.result();
    e.test = evaluate(data_.test_inputs, data_.test_targets);
    // A finite but huge loss (lr 10 gives about 5000) has an infinite perplexity: that model learned
    // nothing either, and calling it completed would rank it with real results.
    if (!std::isfinite(e.test.loss) || !std::isfinite(e.test.ppl)) {
      result.status = "diverged";
      result.message = std::isfinite(e.test.loss)
                           ? fmt::format("test perplexity became {} (loss {:.4g}) at epoch {}", e.test.ppl, e.test.loss, e.epoch)
                           : fmt::format("test loss became {} at epoch {}", e.test.loss, e.epoch);
      break;
    }
    e.seconds = seconds_since(epoch_start);
    result.epochs.push_back(e);
    if (best_of(result.epochs) == e.epoch) {
      result.best_epoch = e.epoch;
      if (!state_.best_values.defined()) state_.best_values = Tensor::zeros(params.values().shape(), params.dtype());
      state_.best_values.copy_from(params.values());
    }
    state_.epochs_done = e.epoch;
    state_.optimizer_steps = optimizer_.steps();
    state_.history = result.epochs;
    stop = e.test.acc > config_.stop_accuracy;
    if (observer) observer->on_epoch(result.epochs.back(), result);
  }

  // Report the best epoch: its test metrics, and the train set re-evaluated with its weights. A diverged run
  // reports none (NaN, shown as null or "diverged"): the epochs before the divergence stay in the history,
  // but a run that blew up is no result to rank.
  if (result.status == "diverged") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    result.train = result.test = SplitMetrics{nan, nan, nan, nan};
  } else if (result.best_epoch > 0) {
    const Tensor last = params.values().clone();
    params.values().copy_from(state_.best_values);
    result.test = result.epochs[static_cast<size_t>(result.best_epoch - 1)].test;
    result.train = evaluate(data_.train_inputs, data_.train_targets);
    params.values().copy_from(last);
  }
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace mad
