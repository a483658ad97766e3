// Which token ids play which role in each task (mad-protocol.md section 1): one place for the layouts
// the generators write, the tests check and `mad data inspect` decodes.
#pragma once

#include <cstdint>
#include <string>

#include "tasks/settings.h"

namespace mad::tasks {

// The token ids [begin, end).
struct TokenRange {
  int32_t begin = 0;
  int32_t end = 0;
  int64_t size() const { return end - begin; }
  bool contains(int32_t token) const { return token >= begin && token < end; }
};

// Unused roles are empty ranges or -1.
struct Vocabulary {
  TokenRange keys;    // recall tasks, memorization, mqar
  TokenRange values;  // recall tasks, memorization, mqar
  TokenRange noise;   // noisy recall
  TokenRange data;    // selective copying, compression
  int32_t pad = -1;       // fuzzy recall: left padding
  int32_t blank = -1;     // selective copying
  int32_t copy = -1;      // selective copying: "now copy"
  int32_t compress = -1;  // compression: the last input token
  int32_t insert = -1;    // memorization: the position where the value is predicted
};

// In-context recall: non_special = V - noise_vocab_size, keys [0, non_special/2), values
// [non_special/2, non_special), noise [non_special, V).
// Fuzzy recall: pad V-1, keys [0, (V-1)/2), values [(V-1)/2, V-1).
// Selective copying: data [0, V-2), blank V-2, copy V-1.
// Compression: data [0, V-1), compress V-1.
// Memorization: keys [0, (V-1)/2), values [(V-1)/2, V-1), insert V-1.
// MQAR (zoology): keys [1, V/2), values [V/2, V); positions not holding a pair or a query are filled
// with tokens uniform over [0, V) (zoology's random_non_queries), so any id may appear there.
Vocabulary vocabulary(const TaskSettings& settings);

// A token as `mad data inspect` shows it: the id, or the name of a special token ("PAD", "BLANK",
// "COPY", "COMPRESS", "INSERT"); noise tokens get a '~' prefix.
std::string token_name(const Vocabulary& vocab, int32_t token);

}  // namespace mad::tasks
