// Copyright: the Résorption-bidonvilles data service authors.
#include "projections/view_hash.h"

#include <openssl/evp.h>

#include <memory>

#include "absl/status/status.h"

namespace rb::proj {
namespace {

constexpr unsigned char kSpaceTag = 0;
constexpr unsigned char kEntryTag = 1;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void AddTag(unsigned char tag) { EVP_DigestUpdate(ctx_.get(), &tag, 1); }
  void AddFramed(std::string_view bytes) {
    unsigned char len[8];
    uint64_t n = bytes.size();
    for (int i = 7; i >= 0; --i, n >>= 8) len[i] = static_cast<unsigned char>(n & 0xff);
    EVP_DigestUpdate(ctx_.get(), len, sizeof(len));
    EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
  }
  std::string FinishHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &size);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out.push_back(kHex[digest[i] >> 4]);
      out.push_back(kHex[digest[i] & 0xf]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

}  // namespace

absl::StatusOr<std::string> HashViews(const ViewReader& reader) {
  Sha256 sha;
  for (const std::string& space : reader.spaces()) {
    sha.AddTag(kSpaceTag);
    sha.AddFramed(space);
    absl::StatusOr<std::unique_ptr<rb::es::KvIterator>> it = reader.NewIterator(space);
    if (!it.ok()) return it.status();
    for ((*it)->Seek(""); (*it)->Valid(); (*it)->Next()) {
      sha.AddTag(kEntryTag);
      sha.AddFramed((*it)->key());
      sha.AddFramed((*it)->value());
    }
    if (absl::Status s = (*it)->status(); !s.ok()) return s;
  }
  return sha.FinishHex();
}

}  // namespace rb::proj
