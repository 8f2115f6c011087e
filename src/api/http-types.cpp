#include "api/http-types.h"

namespace parley::api {

const std::string* HttpRequest::header(std::string_view name) const {
  const std::string* found = nullptr;
  for (const auto& [k, v] : headers) {
    if (k == name) found = &v;
  }
  return found;
}

}  // namespace parley::api
