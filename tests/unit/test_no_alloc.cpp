// A steady-state training step performs no heap allocation.
//
// This executable interposes malloc and friends (glibc allows a program to define them) and counts
// calls while a flag is set. Eigen's own runtime check (EIGEN_RUNTIME_NO_MALLOC) is switched on too.
// Under AddressSanitizer the allocator is ASan's, so the test is skipped there.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <atomic>
#include <cstdlib>

#include "core/ops.h"
#include "core/parallel.h"
#include "core/params.h"
#include "models/backbone.h"
#include "tests/support/layer_run.h"
#include "training/adamw.h"

#ifndef MAD_SANITIZED
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void __libc_free(void*);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
inline void note() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(size_t n) { note(); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
void* aligned_alloc(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
void* memalign(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
int posix_memalign(void** out, size_t align, size_t n) {
  note();
  *out = __libc_memalign(align, n);
  return *out ? 0 : 12;
}
}
#endif

namespace mad {
namespace {

// A small attention + MLP language model step: every kind of op a MAD model uses in its hot loop.
struct TinyModel {
  static constexpr int64_t V = 16, D = 32, H = 4, B = 4, T = 24;
  ParamStore params{DType::F32};
  Param embed, norm, wqkv, wo, w1, w2, head, head_bias;

  TinyModel() {
    ParamScope s(params);
    embed = s.param("embedding.weight", {V, D}, Init::normal(0, 0.02));
    norm = s.param("norm.weight", {D}, Init::ones());
    wqkv = s.param("attn.wqkv.weight", {3 * D, D}, Init::uniform_fan_in());
    wo = s.param("attn.wo.weight", {D, D}, Init::uniform_fan_in());
    w1 = s.param("mlp.w1.weight", {4 * D, D}, Init::uniform_fan_in());
    w2 = s.param("mlp.w2.weight", {D, 4 * D}, Init::uniform_fan_in());
    head = s.param("head.weight", {V, D}, Init::uniform_fan_in());
    head_bias = s.param("head.bias", {V}, Init::zeros());
    params.finalize(1);
  }

  Var loss(Tape& tape, const Tensor& tokens, const Tensor& targets) {
    Var h = embedding(embed.on(tape), tokens);                                   // [B, T, D]
    Var qkv = matmul(rms_norm(h, norm.on(tape), 1e-5), wqkv.on(tape), false, true);  // [B, T, 3D]
    Var parts[3];
    const int64_t sizes[] = {D, D, D};
    split(qkv, -1, sizes, parts);
    auto heads = [&](Var x) { return permute(reshape(x, {B, T, H, D / H}), {0, 2, 1, 3}); };  // [B, H, T, Dh]
    Var scores = matmul(heads(parts[0]), heads(parts[1]), false, true) * (1.0 / std::sqrt(double(D / H)));
    Var attn = matmul(softmax(causal_mask(scores)), heads(parts[2]));            // [B, H, T, Dh]
    h = h + matmul(reshape(permute(attn, {0, 2, 1, 3}), {B, T, D}), wo.on(tape), false, true);
    h = h + matmul(gelu_tanh(matmul(h, w1.on(tape), false, true)), w2.on(tape), false, true);
    Var logits = matmul(h, head.on(tape), false, true) + head_bias.on(tape);
    return cross_entropy(reshape(logits, {B * T, V}), targets);
  }
};

#ifndef MAD_SANITIZED  // the counter exists only without AddressSanitizer
// Counts heap allocations over 5 steady-state training steps (after 3 warm-up steps) of `loss`, with the
// trainer's settings (memory freed during backward). Returns the count; checks that the loss falls.
template <typename LossFn>
long steady_state_allocations(ParamStore& params, LossFn&& loss_of) {
  AdamW optimizer(params, {.lr = 1e-3});
  Tape tape(1024);  // deliberately small: the warm-up steps must grow it
  tape.set_free_in_backward(true);
  auto step = [&] {
    tape.reset();
    params.zero_grad();
    Var loss = loss_of(tape);
    const double value = loss.value().item();  // read before backward frees it
    tape.backward(loss);
    optimizer.step(1e-3);
    return value;
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: the arena and the tape's lists reach their size

  g_allocations = 0;
  g_counting = true;
  Eigen::internal::set_is_malloc_allowed(false);
  const double first = step();
  double last = first;
  for (int i = 0; i < 4; ++i) last = step();
  Eigen::internal::set_is_malloc_allowed(true);
  g_counting = false;
  EXPECT_LT(last, first) << "the steps should be training the model";
  return g_allocations.load();
}
#endif

void run_steady_state_check(int threads) {
#ifdef MAD_SANITIZED
  GTEST_SKIP() << "allocation counting is not possible under AddressSanitizer";
#else
  set_num_threads(threads);
  TinyModel model;
  Tensor tokens = Tensor::zeros({TinyModel::B, TinyModel::T}, DType::I32);
  Tensor targets = Tensor::zeros({TinyModel::B * TinyModel::T}, DType::I32);
  for (int64_t i = 0; i < tokens.numel(); ++i) {
    tokens.data<int32_t>()[i] = static_cast<int32_t>(i % TinyModel::V);
    targets.data<int32_t>()[i] = static_cast<int32_t>((i * 7) % TinyModel::V);
  }
  const long allocations =
      steady_state_allocations(model.params, [&](Tape& tape) { return model.loss(tape, tokens, targets); });
  EXPECT_EQ(allocations, 0) << "heap allocations during 5 steady-state steps";
  set_num_threads(1);
#endif
}

TEST(NoAllocation, SteadyStateStepOneThread) { run_steady_state_check(1); }
TEST(NoAllocation, SteadyStateStepTwoThreads) { run_steady_state_check(2); }

// Every layer of the registry, alone in the language-model backbone at D = 128 (reference defaults), on
// two threads: the steady-state step allocates nothing.
class NoAllocationLayer : public ::testing::TestWithParam<std::string> {};

TEST_P(NoAllocationLayer, SteadyStateStep) {
#ifdef MAD_SANITIZED
  GTEST_SKIP() << "allocation counting is not possible under AddressSanitizer";
#else
  set_num_threads(2);
  constexpr int64_t V = 16, B = 2, T = 40;  // longer than the sliding windows (32)
  const std::string name = GetParam();
  models::Model model(models::arch_from_names(std::vector<std::string>{name}, 128),
                      models::BackboneKind::language_model, V, T);
  model.initialize(1);
  Tensor tokens = Tensor::zeros({B, T}, DType::I32), targets = Tensor::zeros({B * T}, DType::I32);
  for (int64_t i = 0; i < B * T; ++i) {
    tokens.data<int32_t>()[i] = static_cast<int32_t>(i % V);
    targets.data<int32_t>()[i] = static_cast<int32_t>((i * 7) % V);
  }
  const long allocations = steady_state_allocations(model.params(), [&](Tape& tape) {
    return cross_entropy(reshape(model.logits(tape, tokens), {B * T, V}), targets);
  });
  EXPECT_EQ(allocations, 0) << name << ": heap allocations during 5 steady-state steps";
  set_num_threads(1);
#endif
}

INSTANTIATE_TEST_SUITE_P(Registry, NoAllocationLayer, ::testing::ValuesIn(models::builtin_layers().layer_names()),
                         testing::layer_test_name);

// The counter itself works: a deliberate allocation inside the window is seen.
TEST(NoAllocation, CounterSeesAnAllocation) {
#ifdef MAD_SANITIZED
  GTEST_SKIP() << "allocation counting is not possible under AddressSanitizer";
#else
  g_allocations = 0;
  g_counting = true;
  void* volatile p = std::malloc(64);
  g_counting = false;
  std::free(p);
  EXPECT_GE(g_allocations.load(), 1);
#endif
}

}  // namespace
}  // namespace mad
