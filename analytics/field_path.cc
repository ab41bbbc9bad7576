#include "analytics/field_path.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace rb::analytics {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

namespace {

constexpr char kDateType[] = "resorption.v1.Date";

Value DateValue(const Message& m) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  int y = r->GetInt32(m, d->FindFieldByName("year"));
  int mo = r->GetInt32(m, d->FindFieldByName("month"));
  int da = r->GetInt32(m, d->FindFieldByName("day"));
  return Value{true, static_cast<double>(y * 10000 + mo * 100 + da),
               absl::StrFormat("%04d-%02d-%02d", y, mo, da)};
}

Value Number(double v) { return Value{true, v, FormatNumber(v)}; }

}  // namespace

std::string FormatNumber(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

absl::StatusOr<FieldPath> FieldPath::Resolve(const Descriptor* root, absl::string_view dotted) {
  FieldPath path;
  path.dotted_ = std::string(dotted);
  if (dotted.empty()) return absl::InvalidArgumentError("empty field path");
  const Descriptor* current = root;
  std::vector<std::string> segments = absl::StrSplit(dotted, '.');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (current == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("'", dotted, "': '", segments[i - 1],
                                                     "' is not a message, it has no field '",
                                                     segments[i], "'"));
    }
    const FieldDescriptor* f = current->FindFieldByName(segments[i]);
    if (f == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("'", dotted, "': ", current->full_name(),
                                                     " has no field '", segments[i], "'"));
    }
    path.fields_.push_back(f);
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        f->message_type()->full_name() != kDateType) {
      current = f->message_type();
    } else {
      current = nullptr;
    }
  }
  const FieldDescriptor* leaf = path.fields_.back();
  if (leaf->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
    if (leaf->message_type()->full_name() != kDateType) {
      return absl::InvalidArgumentError(absl::StrCat("'", dotted, "' ends on a message (",
                                                     leaf->message_type()->full_name(),
                                                     "); name one of its fields"));
    }
    path.numeric_ = true;
  } else {
    switch (leaf->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
      case FieldDescriptor::CPPTYPE_BOOL:
        path.numeric_ = true;
        break;
      default:
        path.numeric_ = false;
    }
  }
  return path;
}

const google::protobuf::EnumDescriptor* FieldPath::leaf_enum() const {
  const FieldDescriptor* leaf = fields_.back();
  return leaf->cpp_type() == FieldDescriptor::CPPTYPE_ENUM ? leaf->enum_type() : nullptr;
}

void FieldPath::Collect(const Message& message, std::vector<Value>* out) const {
  CollectFrom(message, 0, out);
}

void FieldPath::CollectFrom(const Message& m, size_t depth, std::vector<Value>* out) const {
  const FieldDescriptor* f = fields_[depth];
  const Reflection* r = m.GetReflection();
  const bool leaf = depth + 1 == fields_.size();
  auto scalar = [&](int index) -> Value {
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        return Number(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      case FieldDescriptor::CPPTYPE_INT64:
        return Number(
            static_cast<double>(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f)));
      case FieldDescriptor::CPPTYPE_UINT32:
        return Number(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      case FieldDescriptor::CPPTYPE_UINT64:
        return Number(
            static_cast<double>(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f)));
      case FieldDescriptor::CPPTYPE_DOUBLE:
        return Number(rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      case FieldDescriptor::CPPTYPE_FLOAT:
        return Number(rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool b = rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f);
        return Value{true, b ? 1.0 : 0.0, b ? "true" : "false"};
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* v = rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f);
        return Value{false, static_cast<double>(v->number()), v->name()};
      }
      case FieldDescriptor::CPPTYPE_STRING:
        return Value{false, 0, rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f)};
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return DateValue(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
    }
    return Value{};
  };
  if (f->is_repeated()) {
    int n = r->FieldSize(m, f);
    for (int i = 0; i < n; ++i) {
      if (leaf) {
        out->push_back(scalar(i));
      } else {
        CollectFrom(r->GetRepeatedMessage(m, f, i), depth + 1, out);
      }
    }
    return;
  }
  if (f->has_presence() && !r->HasField(m, f)) return;
  if (leaf) {
    out->push_back(scalar(0));
  } else {
    CollectFrom(r->GetMessage(m, f), depth + 1, out);
  }
}

}  // namespace rb::analytics
