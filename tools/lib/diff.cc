// Copyright: the Résorption-bidonvilles data service authors.
#include "tools/lib/diff.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "domain/labels.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/message_differencer.h"

namespace rb::tools {
namespace {

namespace pb = google::protobuf;

bool IsDate(const pb::Descriptor* d) { return d->full_name() == "resorption.v1.Date"; }

std::string RenderEnum(const pb::EnumDescriptor* type, int number) {
  absl::string_view label = rb::domain::FrenchLabel(type, number);
  if (!label.empty()) return std::string(label);
  if (number == 0) return kEmptyValue;
  const pb::EnumValueDescriptor* v = type->FindValueByNumber(number);
  return v != nullptr ? v->name() : absl::StrCat(number);
}

std::string RenderMessage(const pb::Message& m);

// One value of `field` (index -1: singular).
std::string RenderValue(const pb::Message& m, const pb::FieldDescriptor* f, int index) {
  const pb::Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return absl::StrCat(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      int64_t v = rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f);
      if (absl::EndsWith(f->name(), "_us")) {
        if (v == 0) return kEmptyValue;
        return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixMicros(v),
                                absl::UTCTimeZone());
      }
      return absl::StrCat(v);
    }
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrFormat("%.6f", rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return absl::StrFormat("%.6f", rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "oui" : "non";
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return RenderEnum(f->enum_type(),
                        rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f));
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string s = rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
      return s.empty() ? kEmptyValue : s;
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return RenderMessage(rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return "";
}

// "{a: 1, b: Oui}" with only the fields that are set; a Date as YYYY-MM-DD.
std::string RenderMessage(const pb::Message& m) {
  const pb::Descriptor* d = m.GetDescriptor();
  if (IsDate(d)) {
    const pb::Reflection* r = m.GetReflection();
    int y = r->GetInt32(m, d->FindFieldByName("year"));
    if (y == 0) return kEmptyValue;
    return absl::StrFormat("%04d-%02d-%02d", y, r->GetInt32(m, d->FindFieldByName("month")),
                           r->GetInt32(m, d->FindFieldByName("day")));
  }
  std::vector<const pb::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  std::vector<std::string> parts;
  for (const pb::FieldDescriptor* f : fields) {
    parts.push_back(absl::StrCat(f->name(), ": ", RenderField(m, f)));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

bool FieldEquals(const pb::Message& a, const pb::Message& b, const pb::FieldDescriptor* f) {
  const pb::Reflection* ra = a.GetReflection();
  const pb::Reflection* rb = b.GetReflection();
  if (f->is_repeated()) {
    if (ra->FieldSize(a, f) != rb->FieldSize(b, f)) return false;
  } else if (f->has_presence() && ra->HasField(a, f) != rb->HasField(b, f)) {
    return false;
  }
  return RenderField(a, f) == RenderField(b, f);
}

void DiffInto(const pb::Message& a, const pb::Message& b, const std::string& prefix,
              int first_bookkeeping, std::vector<FieldChange>* out) {
  const pb::Descriptor* d = a.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (first_bookkeeping > 0 && f->number() >= first_bookkeeping) continue;
    const std::string path = prefix.empty() ? f->name() : absl::StrCat(prefix, ".", f->name());
    if (!f->is_repeated() && f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE &&
        !IsDate(f->message_type())) {
      DiffInto(a.GetReflection()->GetMessage(a, f), b.GetReflection()->GetMessage(b, f), path,
               /*first_bookkeeping=*/0, out);
      continue;
    }
    if (FieldEquals(a, b, f)) continue;
    out->push_back({path, RenderField(a, f), RenderField(b, f)});
  }
}

}  // namespace

std::string RenderField(const pb::Message& message, const pb::FieldDescriptor* field) {
  const pb::Reflection* r = message.GetReflection();
  if (field->is_repeated()) {
    int n = r->FieldSize(message, field);
    if (n == 0) return kEmptyValue;
    std::vector<std::string> parts;
    for (int i = 0; i < n; ++i) parts.push_back(RenderValue(message, field, i));
    return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
  }
  if (field->has_presence() && !r->HasField(message, field)) return kEmptyValue;
  return RenderValue(message, field, -1);
}

std::vector<FieldChange> DiffMessages(const pb::Message& before, const pb::Message& after,
                                      const DiffOptions& options) {
  std::vector<FieldChange> out;
  DiffInto(before, after, "", options.first_bookkeeping_field, &out);
  return out;
}

}  // namespace rb::tools
