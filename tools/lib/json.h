// Copyright: the Résorption-bidonvilles data service authors.
//
// Minimal JSON writing for the tools' --json outputs (one object per line).
//
//   rb::tools::JsonObject o;
//   o.Add("site_id", "42").Add("revision", 3).AddRaw("changes", "[]");
//   std::cout << o.str() << "\n";   // {"site_id":"42","revision":3,"changes":[]}
#ifndef RB_TOOLS_LIB_JSON_H_
#define RB_TOOLS_LIB_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace rb::tools {

// `s` as a JSON string literal, quotes included (UTF-8 passes through; controls are escaped).
std::string JsonQuote(std::string_view s);

class JsonObject {
 public:
  JsonObject& Add(std::string_view key, std::string_view value);
  JsonObject& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  JsonObject& Add(std::string_view key, int64_t value);
  JsonObject& Add(std::string_view key, uint64_t value);
  JsonObject& Add(std::string_view key, int value) { return Add(key, int64_t{value}); }
  JsonObject& AddBool(std::string_view key, bool value);
  // `json` must already be valid JSON (an array or object).
  JsonObject& AddRaw(std::string_view key, std::string_view json);
  std::string str() const { return body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_ = "{";
};

}  // namespace rb::tools

#endif  // RB_TOOLS_LIB_JSON_H_
