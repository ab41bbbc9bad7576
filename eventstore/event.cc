#include "eventstore/event.h"

#include "eventstore/encoding.h"

namespace rb::es {

std::string StreamCategory(const std::string& stream_id) {
  size_t dash = stream_id.find('-');
  return dash == std::string::npos ? stream_id : stream_id.substr(0, dash);
}

std::string RecordedEvent::Category() const { return StreamCategory(stream_id); }

std::string ToHex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string Sha256(const std::string& bytes) { return internal::Sha256(bytes); }

}  // namespace rb::es
