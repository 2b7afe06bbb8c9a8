// Test doubles for the inference server: a deterministic LanguageModel (the next token is the last
// token + 1, mod 256, or a fixed script) that records every batch and can be paused inside a
// forward pass, and a Responder that records what the service sends.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "model/language_model.h"
#include "server/api_service.h"

namespace dso::inference::testing {

class FakeModel final : public LanguageModel {
 public:
  explicit FakeModel(int context = 64) : context_(context) {}
  int vocab_size() const override { return 256; }
  int context_length() const override { return context_; }
  std::string device() const override { return "fake"; }

  void next_token_logits(std::span<const SequenceRef> sequences,
                         std::vector<float>& logits) override {
    {
      std::unique_lock lock(mu_);
      batch_sizes_.push_back(static_cast<int>(sequences.size()));
      ++in_forward_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !paused_; });
      --in_forward_;
    }
    logits.assign(sequences.size() * 256, 0.0f);
    for (std::size_t i = 0; i < sequences.size(); ++i) {
      const auto& s = sequences[i].tokens;
      {
        std::lock_guard lock(mu_);
        longest_seen_ = std::max(longest_seen_, s.size());
        ids_seen_.push_back(sequences[i].id);
      }
      const int next = script_.empty()
                           ? (s.back() + 1) % 256
                           : static_cast<unsigned char>(script_[s.size() % script_.size()]);
      logits[i * 256 + next] = 100.0f;  // certain even when sampling
    }
  }

  // Every forward pass blocks until resume().
  void pause() {
    std::lock_guard lock(mu_);
    paused_ = true;
  }
  void resume() {
    std::lock_guard lock(mu_);
    paused_ = false;
    cv_.notify_all();
  }
  // Waits until a forward pass has started and is blocked (after pause()).
  void wait_in_forward() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_forward_ > 0; });
  }
  // The model emits script[len % script.size()] after a sequence of length len.
  void set_script(std::string script) { script_ = std::move(script); }
  void release(std::uint64_t id) override {
    std::lock_guard lock(mu_);
    released_.push_back(id);
  }
  std::vector<std::uint64_t> released() {
    std::lock_guard lock(mu_);
    return released_;
  }
  std::vector<std::uint64_t> ids_seen() {
    std::lock_guard lock(mu_);
    return ids_seen_;
  }
  std::size_t longest_seen() {
    std::lock_guard lock(mu_);
    return longest_seen_;
  }
  std::vector<int> batch_sizes() {
    std::lock_guard lock(mu_);
    return batch_sizes_;
  }

 private:
  int context_;
  std::string script_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false;
  int in_forward_ = 0;
  std::vector<int> batch_sizes_;
  std::vector<std::uint64_t> released_, ids_seen_;
  std::size_t longest_seen_ = 0;
};

class RecordingResponder final : public Responder {
 public:
  void reply(HttpResponse response) override {
    std::lock_guard lock(mu_);
    status_ = response.status;
    headers_ = response.headers;
    body_ = response.body;
    done_ = true;
    cv_.notify_all();
  }
  void start_stream(int status, const std::string& content_type, Headers headers) override {
    std::lock_guard lock(mu_);
    status_ = status;
    content_type_ = content_type;
    headers_ = std::move(headers);
    streaming_ = true;
  }
  void write(std::string chunk) override {
    std::lock_guard lock(mu_);
    if (!streaming_) throw std::logic_error("write before start_stream");
    body_ += chunk;
    chunks_.push_back(std::move(chunk));
  }
  void end() override {
    std::lock_guard lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  // Waits (up to 10 s) for the response to be complete; false on timeout.
  bool wait() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return done_; });
  }
  int status() {
    std::lock_guard lock(mu_);
    return status_;
  }
  std::string body() {
    std::lock_guard lock(mu_);
    return body_;
  }
  std::string header(const std::string& name) {
    std::lock_guard lock(mu_);
    for (const auto& [n, v] : headers_) {
      if (n == name) return v;
    }
    return "";
  }
  std::vector<std::string> chunks() {
    std::lock_guard lock(mu_);
    return chunks_;
  }
  std::string content_type() {
    std::lock_guard lock(mu_);
    return content_type_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int status_ = 0;
  Headers headers_;
  std::string body_, content_type_;
  std::vector<std::string> chunks_;
  bool streaming_ = false;
  bool done_ = false;
};

}  // namespace dso::inference::testing
