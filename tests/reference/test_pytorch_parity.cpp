// Our models against a PyTorch computation of the same models (tests/reference/make_fixtures.py, run with
// Debian's python3-torch; the fixtures are checked in): same weights and batch give the same logits, loss
// and every parameter gradient, and three AdamW steps give the same losses. Float64 matches to rounding;
// float32 to about 1e-4 relative.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "config/yaml.h"
#include "models/backbone.h"
#include "training/adamw.h"

namespace mad {
namespace {

struct Fixture {
  config::Value meta;
  std::map<std::string, Tensor> tensors;  // float64 or int32 (from int64)
};

Fixture load_fixture(const std::string& name) {
  const std::string path = std::string(MAD_SOURCE_DIR) + "/tests/reference/fixtures/" + name + ".madfix";
  std::ifstream in(path, std::ios::binary);
  MAD_CHECK(in, "cannot open fixture {}", path);
  char magic[8];
  uint64_t length = 0;
  in.read(magic, 8);
  in.read(reinterpret_cast<char*>(&length), 8);
  MAD_CHECK(in && std::memcmp(magic, "MADFIX01", 8) == 0, "{}: not a fixture file", path);
  std::string header(length, '\0');
  in.read(header.data(), static_cast<std::streamsize>(length));
  const config::Value h = config::load_string(header, path);
  MAD_CHECK(h.get<int64_t>("version") == 1, "{}: fixture version {} (expected 1)", path, h.get<int64_t>("version"));
  std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Fixture f{h.at("meta"), {}};
  for (const config::Value& t : h.at("tensors").as_list()) {
    const auto dims = t.get<std::vector<int64_t>>("shape");
    const Shape shape{std::span<const int64_t>(dims)};
    const auto offset = static_cast<size_t>(t.get<int64_t>("offset"));
    MAD_CHECK(offset + static_cast<size_t>(shape.numel()) * 8 <= data.size(), "{}: truncated", path);
    Tensor out;
    if (t.get<std::string>("dtype") == "int64") {
      out = Tensor::zeros(shape, DType::I32);
      for (int64_t i = 0; i < shape.numel(); ++i) {
        int64_t v;
        std::memcpy(&v, data.data() + offset + static_cast<size_t>(i) * 8, 8);
        out.data<int32_t>()[i] = static_cast<int32_t>(v);
      }
    } else {
      out = Tensor::zeros(shape, DType::F64);
      std::memcpy(out.raw(), data.data() + offset, static_cast<size_t>(shape.numel()) * 8);
    }
    f.tensors[t.get<std::string>("name")] = out;
  }
  return f;
}

// Compares tensor by tensor; prints the first mismatches.
void expect_close(const std::string& what, const Tensor& ours, const Tensor& ref, double rtol, double atol) {
  ASSERT_EQ(ours.numel(), ref.numel()) << what;
  int shown = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double a = ours.item(i), b = ref.item(i);
    if (std::abs(a - b) > atol + rtol * std::abs(b) && shown++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: ours " << a << ", PyTorch " << b;
  }
}

void check_model(const std::string& name, DType dtype, double rtol, double atol) {
  const Fixture f = load_fixture(name);
  const auto kind = f.meta.get<std::string>("backbone") == "autoencoder" ? models::BackboneKind::autoencoder
                                                                         : models::BackboneKind::language_model;
  const Tensor& tokens = f.tensors.at("tokens");
  const int64_t V = f.meta.get<int64_t>("vocab_size");
  models::Model model(models::arch_from_config(f.meta.at("arch")), kind, V, tokens.dim(1), dtype);
  model.initialize(0);
  ParamStore& params = model.params();
  for (const auto& e : params.entries()) {
    ASSERT_TRUE(f.tensors.count(e.name)) << "the fixture has no parameter " << e.name;
    e.value.copy_from(f.tensors.at(e.name).to(dtype));
  }
  size_t fixture_params = 0;
  for (const auto& [n, t] : f.tensors) fixture_params += n.rfind("grad.", 0) == 0;
  EXPECT_EQ(fixture_params, params.entries().size()) << "parameter sets differ";

  const Tensor targets = f.tensors.at("targets").reshape({tokens.numel()});
  auto loss_of = [&](Tape& tape) {
    Var logits = model.logits(tape, tokens);
    return std::pair{logits, cross_entropy(reshape(logits, {tokens.numel(), V}), targets)};
  };
  {
    Tape tape;
    params.zero_grad();
    auto [logits, loss] = loss_of(tape);
    tape.backward(loss);
    expect_close(name + " logits", logits.value(), f.tensors.at("logits"), rtol, atol);
    expect_close(name + " loss", loss.value(), f.tensors.at("loss"), rtol, atol);
    for (const auto& e : params.entries()) expect_close(name + " grad " + e.name, e.grad, f.tensors.at("grad." + e.name), rtol, atol);
  }
  const config::Value& adam = f.meta.at("adamw");
  AdamW opt(params, {.lr = adam.get<double>("lr"), .weight_decay = adam.get<double>("weight_decay")});
  const auto losses = adam.get<std::vector<double>>("losses");
  for (size_t step = 0; step < losses.size(); ++step) {
    Tape tape;
    params.zero_grad();
    Var loss = loss_of(tape).second;
    tape.backward(loss);
    opt.step(adam.get<double>("lr"));
    EXPECT_NEAR(loss.value().item(), losses[step], atol + rtol * std::abs(losses[step])) << name << " AdamW step " << step + 1;
  }
}

TEST(PyTorchParity, LanguageModelFloat64) { check_model("language_model", DType::F64, 1e-9, 1e-11); }
TEST(PyTorchParity, LanguageModelFloat32) { check_model("language_model", DType::F32, 1e-4, 1e-5); }
// The decoder's sin/cos positions are float32 on both sides (as in the reference); PyTorch's and glibc's
// float32 sin/cos differ in the last bit, which bounds the float64 agreement of the autoencoder at ~1e-7.
TEST(PyTorchParity, AutoencoderFloat64) { check_model("autoencoder", DType::F64, 1e-6, 1e-6); }
TEST(PyTorchParity, AutoencoderFloat32) { check_model("autoencoder", DType::F32, 1e-4, 1e-5); }

}  // namespace
}  // namespace mad
