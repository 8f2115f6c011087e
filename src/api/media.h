// Validation of image / document / search-result blocks. Images and PDFs are checked fully
// (source shape, media type, base64 alphabet) and then reported as MediaRef: no vision or PDF
// path exists yet, so the service refuses them with a clear message instead of dropping them.
// Plain-text documents and search results become prompt text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat-request.h"
#include "api/json-fields.h"
#include "base/json.h"
#include "base/result.h"

namespace parley::api {

// true when s is canonical base64 (A-Z a-z 0-9 + /, '=' padding only at the end, length a
// multiple of 4) and not empty.
bool is_base64(std::string_view s);

// An Anthropic `image` block (its `source`).
Result<MediaRef> parse_image_source(const json::Value& block, const FieldPath& path);

struct DocumentContent {
  std::optional<MediaRef> media;       // PDF / URL / file: needs a path we do not have
  std::string text;                    // text and custom-content documents
  std::vector<MediaRef> nested_media;  // images inside a custom-content document
};
// An Anthropic `document` block.
Result<DocumentContent> parse_document(const json::Value& block, const FieldPath& path);
// An Anthropic `search_result` block, as prompt text.
Result<std::string> parse_search_result(const json::Value& block, const FieldPath& path);

// An OpenAI image_url value: "data:image/png;base64,…" or an http(s) URL.
Result<MediaRef> parse_image_url(std::string_view url, const FieldPath& path);
// The Anthropic image block for an image_url that parse_image_url accepted: a base64 source for
// a data URL, else a url source.
json::Value anthropic_image_block(std::string_view url);

}  // namespace parley::api
