// Stop strings over streamed text. Text that could be the start of a stop string is held back
// until it is known not to be one, so a matched stop string never reaches the client (the API
// says the stop sequence is not part of the output). Text given in is valid UTF-8 and held-back
// tails start at a character boundary, so what comes out is valid UTF-8 too.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::api {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  struct Output {
    std::string text;                  // safe to emit now
    std::optional<std::string> match;  // the stop string that ended the output
  };
  // Feeds newly generated text. After a match, nothing more should be pushed.
  Output push(std::string_view text);
  // End of generation: what was held back is plain text after all.
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

}  // namespace parley::api
