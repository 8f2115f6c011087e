#include "app/serve-keys.h"

#include <algorithm>

#include "base/strings.h"

namespace parley::app {

Result<KeyModels> key_models_from_flags(const std::vector<std::string>& specs,
                                        const std::vector<std::string>& api_keys,
                                        const std::function<bool(const std::string&)>& served) {
  KeyModels out;
  for (size_t n = 0; n < specs.size(); n++) {
    const std::string& spec = specs[n];
    // The key is a secret: messages say which --api-key-models (by position), never the key.
    const std::string which = "--api-key-models #" + std::to_string(n + 1);
    size_t eq = spec.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return Error{which + ": expected KEY=MODEL[,MODEL...]"};
    }
    std::string key = spec.substr(0, eq);
    if (std::find(api_keys.begin(), api_keys.end(), key) == api_keys.end()) {
      return Error{which + ": its key is not one of the --api-key values"};
    }
    if (out.count(key) != 0) return Error{which + ": its key is limited twice (list its models in one flag)"};
    std::vector<std::string> models;
    const std::string list = spec.substr(eq + 1);
    for (std::string_view raw : split(list, ',')) {
      std::string id(trim(raw));
      if (id.empty()) return Error{which + ": an empty model id in the list"};
      if (!served(id)) return Error{which + ": model " + id + " is not served here"};
      if (std::find(models.begin(), models.end(), id) == models.end()) models.push_back(std::move(id));
    }
    out.emplace(std::move(key), std::move(models));
  }
  return out;
}

}  // namespace parley::app
