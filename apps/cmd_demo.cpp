// `mad demo`: a short end-to-end training run through the whole engine (tape, ops, parameter block,
// AdamW) on a small synthetic task, printing the loss curve. A smoke test a new user can watch.
//
// The model is a two-layer MLP language model over V tokens, [B, T] -> [B, T, V]:
//   h = embedding(x);  h = h + W2 gelu(W1 rmsnorm(h));  logits = Wout rmsnorm(h) + b
// and the task is a fixed random token map y_t = f(x_t): learnable to ~100% accuracy in a few hundred steps.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>

#include "apps/commands.h"
#include "apps/option_checks.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/params.h"
#include "core/rng.h"
#include "training/adamw.h"

namespace mad::cli {
namespace {

struct DemoOptions {
  int steps = 300;
  int batch = 32;
  int seq_len = 64;
  int vocab = 32;
  int dim = 64;
  double lr = 3e-3;
  uint64_t seed = 12345;
  int threads = 1;
};

void run_demo(const DemoOptions& o) {
  MAD_CHECK(o.steps > 0 && o.batch > 0 && o.seq_len > 0 && o.vocab > 1 && o.dim > 0,
            "demo: --steps, --batch, --seq-len and --dim must be positive and --vocab at least 2");
  set_num_threads(o.threads);
  const int64_t V = o.vocab, D = o.dim, B = o.batch, T = o.seq_len;

  ParamStore params(DType::F32);
  ParamScope root(params);
  Param embed = root.sub("embedding").param("weight", {V, D}, Init::normal(0, 0.02));
  Param norm1 = root.sub("mlp").sub("norm").param("weight", {D}, Init::ones());
  Param w1 = root.sub("mlp").sub("fc1").param("weight", {4 * D, D}, Init::uniform_fan_in());
  Param w2 = root.sub("mlp").sub("fc2").param("weight", {D, 4 * D}, Init::uniform_fan_in());
  Param norm_f = root.sub("norm_f").param("weight", {D}, Init::ones());
  Param w_out = root.sub("head").param("weight", {V, D}, Init::uniform_fan_in());
  Param b_out = root.sub("head").param("bias", {V}, Init::zeros());
  params.finalize(o.seed);
  AdamW optimizer(params, {.lr = o.lr});

  // The task: a fixed random map of tokens, y_t = map[x_t].
  Rng rng(o.seed + 1);
  std::vector<int32_t> map(static_cast<size_t>(V));
  for (int64_t v = 0; v < V; ++v) map[static_cast<size_t>(v)] = static_cast<int32_t>(rng.below(static_cast<uint64_t>(V)));
  Tensor inputs = Tensor::zeros({B, T}, DType::I32), targets = Tensor::zeros({B * T}, DType::I32);

  fmt::print("mad demo: {}-parameter MLP language model, V={} D={}, batch {}x{}, {} steps, {} thread(s)\n",
             params.num_params(), V, D, B, T, o.steps, o.threads);
  fmt::print("{:>6}  {:>9}  {:>9}\n", "step", "loss", "accuracy");
  Tape tape;
  const auto start = std::chrono::steady_clock::now();
  double loss_value = 0, accuracy = 0;
  for (int step = 1; step <= o.steps; ++step) {
    for (int64_t i = 0; i < B * T; ++i) {
      const auto x = static_cast<int32_t>(rng.below(static_cast<uint64_t>(V)));
      inputs.data<int32_t>()[i] = x;
      targets.data<int32_t>()[i] = map[static_cast<size_t>(x)];
    }
    tape.reset();
    params.zero_grad();
    Var h = embedding(embed.on(tape), inputs);                                     // [B, T, D]
    Var u = gelu_tanh(matmul(rms_norm(h, norm1.on(tape), 1e-5), w1.on(tape), false, true));
    h = h + matmul(u, w2.on(tape), false, true);                                   // [B, T, D]
    Var logits = matmul(rms_norm(h, norm_f.on(tape), 1e-5), w_out.on(tape), false, true) + b_out.on(tape);
    Var loss = cross_entropy(reshape(logits, {B * T, V}), targets);
    tape.backward(loss);
    optimizer.step(o.lr);

    loss_value = loss.value().item();
    const float* lg = logits.value().data<float>();
    int64_t correct = 0;
    for (int64_t i = 0; i < B * T; ++i) {
      int64_t best = 0;
      for (int64_t v = 1; v < V; ++v) best = lg[i * V + v] > lg[i * V + best] ? v : best;
      correct += best == targets.data<int32_t>()[i];
    }
    accuracy = static_cast<double>(correct) / static_cast<double>(B * T);
    if (step == 1 || step % 50 == 0 || step == o.steps) fmt::print("{:>6}  {:>9.4f}  {:>9.4f}\n", step, loss_value, accuracy);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("done: final loss {:.4f}, accuracy {:.4f}, {:.1f} ms/step, {:.0f} tokens/s, {} ops per step\n",
             loss_value, accuracy, 1e3 * seconds / o.steps, static_cast<double>(B * T) * o.steps / seconds,
             tape.nodes().size());
}

}  // namespace

void setup_demo(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand("demo", "Train a tiny model end to end and print its loss curve (a smoke test)");
  cmd->add_option("--steps", options->steps, "training steps")->check(int_in(1))->capture_default_str();
  cmd->add_option("--batch", options->batch, "sequences per batch")->check(int_in(1, 1 << 20))->capture_default_str();
  cmd->add_option("--seq-len", options->seq_len, "tokens per sequence")->check(int_in(2, 1 << 20))->capture_default_str();
  cmd->add_option("--vocab", options->vocab, "vocabulary size")->check(int_in(2, 1 << 20))->capture_default_str();
  cmd->add_option("--dim", options->dim, "model width")->check(int_in(1, 1 << 16))->capture_default_str();
  cmd->add_option("--lr", options->lr, "AdamW learning rate")->check(real_positive())->capture_default_str();
  cmd->add_option("--seed", options->seed, "random seed (data and initialisation)")->capture_default_str();
  cmd->add_option("--threads", options->threads, "threads used by the kernels")->check(int_in(1, kMaxWorkers))->capture_default_str();
  cmd->callback([options] { run_demo(*options); });
}

}  // namespace mad::cli
