// `parley serve`'s client keys limited to some models (--api-key-models KEY=ID,...).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace parley::app {

using KeyModels = std::map<std::string, std::vector<std::string>, std::less<>>;

// Each spec is KEY=ID[,ID...] (split at the last '=': a key may hold '='). KEY must be one of
// `api_keys` and given once; every ID must be `served`. Errors name the flag and the model but
// never the key.
Result<KeyModels> key_models_from_flags(const std::vector<std::string>& specs,
                                        const std::vector<std::string>& api_keys,
                                        const std::function<bool(const std::string&)>& served);

}  // namespace parley::app
