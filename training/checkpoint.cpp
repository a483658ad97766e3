#include "training/checkpoint.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/canonical.h"
#include "config/yaml.h"

namespace mad {
namespace {

constexpr char kMagic[8] = {'M', 'A', 'D', 'C', 'K', 'P', 'T', '\n'};

struct Header {
  config::Value value;
  std::streamoff data_offset = 0;
};

Header read_header(std::ifstream& in, const std::string& path) {
  char magic[8];
  uint64_t length = 0;
  in.read(magic, 8);
  MAD_CHECK(in && std::memcmp(magic, kMagic, 8) == 0, "{}: not a madcpp checkpoint (bad magic bytes)", path);
  in.read(reinterpret_cast<char*>(&length), 8);
  MAD_CHECK(in && length < (uint64_t(1) << 30), "{}: corrupt checkpoint header", path);
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  MAD_CHECK(in, "{}: truncated checkpoint header", path);
  Header h{config::load_string(text, path), static_cast<std::streamoff>(16 + length)};
  const int64_t version = h.value.get<int64_t>("format_version");
  MAD_CHECK(version == kCheckpointVersion, "{}: checkpoint format version {} is not supported (this build reads {})",
            path, version, kCheckpointVersion);
  return h;
}

}  // namespace

config::Value to_config(const SplitMetrics& m) {
  config::Value v = config::Value::map();
  v.set("loss", m.loss);
  v.set("ppl", m.ppl);
  v.set("acc", m.acc);
  v.set("token_acc", m.token_acc);
  return v;
}

SplitMetrics split_metrics_from_config(const config::Value& v) {
  return {v.get<double>("loss"), v.get<double>("ppl"), v.get<double>("acc"), v.get<double>("token_acc")};
}

void save_checkpoint(const std::string& path, ParamStore& params, const TrainState& state, const config::Value& meta) {
  config::Value h = config::Value::map();
  h.set("format_version", config::Value(kCheckpointVersion));
  h.set("dtype", std::string(dtype_name(params.dtype())));
  h.set("padded_size", config::Value(params.padded_size()));
  config::Value table = config::Value::list();
  for (const auto& e : params.entries()) {
    config::Value row = config::Value::map();
    row.set("name", e.name);
    config::Value shape = config::Value::list();
    for (int64_t d : e.shape.dims()) shape.push_back(config::Value(d));
    row.set("shape", shape);
    row.set("offset", config::Value(e.offset));
    table.push_back(row);
  }
  h.set("params", table);
  h.set("epochs_done", config::Value(state.epochs_done));
  h.set("optimizer_steps", config::Value(state.optimizer_steps));
  config::Value history = config::Value::list();
  for (const EpochResult& e : state.history) {
    config::Value row = config::Value::map();
    row.set("epoch", config::Value(e.epoch));
    row.set("lr", e.lr);
    row.set("seconds", e.seconds);
    row.set("train", to_config(e.train));
    row.set("test", to_config(e.test));
    history.push_back(row);
  }
  h.set("history", history);
  h.set("has_best", state.best_values.defined());
  h.set("meta", meta);
  const std::string text = config::canonical(h);

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    MAD_CHECK(out, "cannot write checkpoint {}: check that the directory exists and is writable", tmp);
    const uint64_t length = text.size();
    out.write(kMagic, 8);
    out.write(reinterpret_cast<const char*>(&length), 8);
    out.write(text.data(), static_cast<std::streamsize>(length));
    auto write = [&](const Tensor& t) { out.write(static_cast<const char*>(t.raw()), static_cast<std::streamsize>(t.nbytes())); };
    write(params.values());
    write(params.moment1());
    write(params.moment2());
    if (state.best_values.defined()) write(state.best_values);
    out.flush();
    MAD_CHECK(out, "writing checkpoint {} failed (disk full?)", tmp);
  }
  std::filesystem::rename(tmp, path);
}

LoadedCheckpoint load_checkpoint(const std::string& path, ParamStore& params) {
  std::ifstream in(path, std::ios::binary);
  MAD_CHECK(in, "cannot open checkpoint {}", path);
  const Header h = read_header(in, path);
  const config::Value& v = h.value;
  MAD_CHECK(v.get<std::string>("dtype") == dtype_name(params.dtype()), "{}: checkpoint dtype {} differs from the model's {}",
            path, v.get<std::string>("dtype"), dtype_name(params.dtype()));
  const auto& table = v.at("params").as_list();
  MAD_CHECK(table.size() == params.entries().size() && v.get<int64_t>("padded_size") == params.padded_size(),
            "{}: checkpoint has {} parameters, the model {}; was it saved from another architecture?", path, table.size(),
            params.entries().size());
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& e = params.entries()[i];
    const std::string name = table[i].get<std::string>("name");
    const auto shape = table[i].get<std::vector<int64_t>>("shape");
    MAD_CHECK(name == e.name && Shape(std::span<const int64_t>(shape)) == e.shape && table[i].get<int64_t>("offset") == e.offset,
              "{}: parameter {} is '{}' {} in the checkpoint but '{}' {} in the model", path, i, name,
              Shape(std::span<const int64_t>(shape)).str(), e.name, e.shape.str());
  }
  LoadedCheckpoint out;
  out.meta = v.at("meta");
  out.state.epochs_done = v.get<int64_t>("epochs_done");
  out.state.optimizer_steps = v.get<int64_t>("optimizer_steps");
  for (const config::Value& row : v.at("history").as_list()) {
    EpochResult e;
    e.epoch = row.get<int64_t>("epoch");
    e.lr = row.get<double>("lr");
    e.seconds = row.get<double>("seconds");
    e.train = split_metrics_from_config(row.at("train"));
    e.test = split_metrics_from_config(row.at("test"));
    out.state.history.push_back(e);
  }
  auto read = [&](const Tensor& t) {
    in.read(static_cast<char*>(t.raw()), static_cast<std::streamsize>(t.nbytes()));
    MAD_CHECK(in, "{}: truncated checkpoint (parameter data ends early)", path);
  };
  read(params.values());
  read(params.moment1());
  read(params.moment2());
  if (v.get<bool>("has_best")) {
    out.state.best_values = Tensor::zeros(params.values().shape(), params.dtype());
    read(out.state.best_values);
  }
  return out;
}

config::Value read_checkpoint_meta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MAD_CHECK(in, "cannot open checkpoint {}", path);
  return read_header(in, path).value.at("meta");
}

}  // namespace mad
