// Status and Expected<T>: how every fallible function of the runtime reports failure.
//
// The runtime is a library embedded in Python processes and the `triton` command, so it
// never prints, aborts or exits: a failure is a value carrying a one-line message that the
// caller turns into an exception or a diagnostic. (C++20 has no std::expected yet.)
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace triton_rt {

class Status {
 public:
  Status() = default;
  static Status error(std::string message) { return Status(std::move(message)); }
  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

template <class T>
class Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Expected(Status status) : state_(std::move(status)) {}  // NOLINT: must be an error
  bool ok() const { return std::holds_alternative<T>(state_); }
  T& value() { return std::get<T>(state_); }
  const T& value() const { return std::get<T>(state_); }
  T* operator->() { return &value(); }
  const std::string& message() const { return std::get<Status>(state_).message(); }
  Status status() const { return ok() ? Status() : std::get<Status>(state_); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace triton_rt
