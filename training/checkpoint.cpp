#include "training/checkpoint.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/atomic_file.h"
#include "config/canonical.h"
#include "config/sha256.h"
#include "config/yaml.h"

namespace mad {
namespace {

constexpr char kMagic[8] = {'M', 'A', 'D', 'C', 'K', 'P', 'T', '\n'};

struct Header {
  config::Value value;
  std::streamoff data_offset = 0;
};

// Reads from `in`, feeding every byte to `hash` (null: no hashing), with one-line errors naming `path`.
struct HashedReader {
  std::ifstream& in;
  const std::string& path;
  config::Sha256* hash;
  void read(void* data, size_t bytes, const char* what) {
    in.read(static_cast<char*>(data), static_cast<std::streamsize>(bytes));
    MAD_CHECK(in, "{}: truncated checkpoint ({} ends early); the file is damaged: start the run again without --resume",
              path, what);
    if (hash) hash->update(std::string_view(static_cast<const char*>(data), bytes));
  }
};

// A header longer than this is damage, not a checkpoint (a real one holds a table and an epoch history).
constexpr uint64_t kMaxHeaderBytes = uint64_t{1} << 26;

Header read_header(HashedReader& r) {
  char magic[8];
  uint64_t length = 0;
  r.read(magic, 8, "the magic bytes");
  MAD_CHECK(std::memcmp(magic, kMagic, 8) == 0, "{}: not a madcpp checkpoint (bad magic bytes)", r.path);
  r.read(&length, 8, "the header length");
  MAD_CHECK(length < kMaxHeaderBytes, "{}: corrupt checkpoint header (length {})", r.path, length);
  std::string text(length, '\0');
  r.read(text.data(), length, "the header");
  Header h{config::load_string(text, r.path), static_cast<std::streamoff>(16 + length)};
  MAD_CHECK(h.value.kind() == config::Value::Kind::Map, "{}: corrupt checkpoint header (not a map)", r.path);
  const int64_t version = h.value.get<int64_t>("format_version");
  MAD_CHECK(version == kCheckpointVersion,
            "{}: checkpoint format version {} is not supported (this build reads {}); start the run again without --resume",
            r.path, version, kCheckpointVersion);
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

  // Everything is hashed as written; the digest closes the file (see checkpoint.h).
  config::AtomicFile out(path);
  config::Sha256 hash;
  auto put = [&](const void* data, size_t bytes) {
    out.write(data, bytes);
    hash.update(std::string_view(static_cast<const char*>(data), bytes));
  };
  const uint64_t length = text.size();
  put(kMagic, 8);
  put(&length, 8);
  put(text.data(), text.size());
  auto put_tensor = [&](const Tensor& t) { put(t.raw(), static_cast<size_t>(t.nbytes())); };
  put_tensor(params.values());
  put_tensor(params.moment1());
  put_tensor(params.moment2());
  if (state.best_values.defined()) put_tensor(state.best_values);
  const std::array<uint8_t, 32> digest = hash.finish();
  out.write(digest.data(), digest.size());
  out.commit();
}

LoadedCheckpoint load_checkpoint(const std::string& path, ParamStore& params) {
  std::ifstream in(path, std::ios::binary);
  MAD_CHECK(in, "cannot open checkpoint {}", path);
  config::Sha256 hash;
  HashedReader r{in, path, &hash};
  const Header h = read_header(r);
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
  // The sections go into scratch tensors first: the model's parameters change only once the checksum and
  // the values are known to be good.
  const bool has_best = v.get<bool>("has_best");
  std::vector<Tensor> sections;
  for (int k = 0; k < (has_best ? 4 : 3); ++k) {
    sections.push_back(Tensor::zeros(params.values().shape(), params.dtype()));
    r.read(sections.back().raw(), static_cast<size_t>(sections.back().nbytes()), "the parameter data");
  }
  std::array<uint8_t, 32> stored{};
  r.hash = nullptr;
  r.read(stored.data(), stored.size(), "the checksum");
  MAD_CHECK(in.peek() == std::char_traits<char>::eof(), "{}: trailing bytes after the checkpoint's checksum; the file is "
            "damaged: start the run again without --resume", path);
  MAD_CHECK(hash.finish() == stored, "{}: checksum mismatch (SHA-256 of header and parameters); the file is damaged: "
            "start the run again without --resume", path);
  const auto check_finite = [&](auto x) {
    for (size_t i = 0; i < x.size(); ++i)
      MAD_CHECK(std::isfinite(x[i]), "{}: parameter data holds a non-finite value ({}) at element {}; the run it saved "
                "had diverged or the file is damaged: start the run again without --resume", path, x[i], i);
  };
  for (const Tensor& t : sections) {
    if (t.dtype() == DType::F64) check_finite(t.span<double>());
    else check_finite(t.span<float>());
  }
  params.values().copy_from(sections[0]);
  params.moment1().copy_from(sections[1]);
  params.moment2().copy_from(sections[2]);
  if (has_best) out.state.best_values = sections[3];
  return out;
}

config::Value read_checkpoint_meta(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  MAD_CHECK(in, "cannot open checkpoint {}", path);
  HashedReader r{in, path, nullptr};
  const config::Value header = read_header(r).value;
  MAD_CHECK(header.find("meta"), "{}: corrupt checkpoint header (no meta)", path);
  return header.at("meta");
}

}  // namespace mad
