#include "api/media.h"

#include "base/strings.h"

namespace parley::api {
namespace {

bool is_http_url(std::string_view url) {
  return starts_with(url, "https://") || starts_with(url, "http://");
}

Result<std::string_view> read_url(const json::Value& source, const FieldPath& path) {
  PARLEY_TRY(std::string_view url, read_string(source, "url", path, true));
  if (!is_http_url(url)) {
    return path.key("url").error(
        str_printf("expected an http(s) URL, got %s", quote_for_message(url).c_str()));
  }
  return url;
}

}  // namespace

bool is_base64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  size_t pad = 0;
  if (s.back() == '=') pad = (s.size() >= 2 && s[s.size() - 2] == '=') ? 2 : 1;
  for (size_t i = 0; i < s.size() - pad; i++) {
    char c = s[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

Result<MediaRef> parse_image_source(const json::Value& block, const FieldPath& path) {
  PARLEY_TRY(const json::Value* src, member(block, "source", path, true));
  FieldPath sp = path.key("source");
  PARLEY_TRY(auto _, require_object(src, sp));
  (void)_;
  PARLEY_TRY(std::string_view type, read_enum(*src, "type", sp, true, {"base64", "url", "file"}));
  MediaRef ref;
  ref.path = path.str();
  if (type == "base64") {
    PARLEY_TRY(auto mt, read_enum(*src, "media_type", sp, true,
                                  {"image/jpeg", "image/png", "image/gif", "image/webp"}));
    PARLEY_TRY(std::string_view data, read_string(*src, "data", sp, true));
    if (!is_base64(data)) return sp.key("data").error("invalid base64 data");
    ref.what = str_printf("an image (%s)", std::string(mt).c_str());
  } else if (type == "url") {
    PARLEY_TRY(auto url, read_url(*src, sp));
    (void)url;
    ref.what = "an image (URL)";
  } else {
    PARLEY_TRY(std::string_view file_id, read_string(*src, "file_id", sp, true));
    (void)file_id;
    ref.what = "an image (Files API file_id)";
  }
  return ref;
}

Result<DocumentContent> parse_document(const json::Value& block, const FieldPath& path) {
  PARLEY_TRY(const json::Value* src, member(block, "source", path, true));
  FieldPath sp = path.key("source");
  PARLEY_TRY(auto _, require_object(src, sp));
  (void)_;
  PARLEY_TRY(std::string_view title, read_string(block, "title", path, false));
  PARLEY_TRY(std::string_view context, read_string(block, "context", path, false));
  PARLEY_TRY(const json::Value* citations, member(block, "citations", path, false));
  if (citations != nullptr) {
    PARLEY_TRY(auto c, require_object(citations, path.key("citations")));
    PARLEY_TRY(auto enabled, read_bool(*c, "enabled", path.key("citations")));
    (void)enabled;
  }
  PARLEY_TRY(std::string_view type,
             read_enum(*src, "type", sp, true, {"base64", "url", "text", "content", "file"}));
  DocumentContent doc;
  MediaRef ref;
  ref.path = path.str();
  if (type == "base64") {
    PARLEY_TRY(auto mt, read_enum(*src, "media_type", sp, true, {"application/pdf"}));
    (void)mt;
    PARLEY_TRY(std::string_view data, read_string(*src, "data", sp, true));
    if (!is_base64(data)) return sp.key("data").error("invalid base64 data");
    ref.what = "a PDF document";
    doc.media = ref;
    return doc;
  }
  if (type == "url") {
    PARLEY_TRY(auto url, read_url(*src, sp));
    (void)url;
    ref.what = "a PDF document (URL)";
    doc.media = ref;
    return doc;
  }
  if (type == "file") {
    PARLEY_TRY(std::string_view file_id, read_string(*src, "file_id", sp, true));
    (void)file_id;
    ref.what = "a document (Files API file_id)";
    doc.media = ref;
    return doc;
  }
  // Text documents: the model reads them as text.
  std::string body;
  if (type == "text") {
    PARLEY_TRY(auto mt, read_enum(*src, "media_type", sp, true, {"text/plain"}));
    (void)mt;
    PARLEY_TRY(std::string_view data, read_string(*src, "data", sp, true));
    body = std::string(data);
  } else {
    PARLEY_TRY(const json::Value* content, member(*src, "content", sp, true));
    FieldPath cp = sp.key("content");
    if (content->is_string()) {
      body = content->as_string();
    } else if (content->is_array()) {
      const auto& arr = content->as_array();
      for (size_t i = 0; i < arr.size(); i++) {
        FieldPath p = cp.index(i);
        PARLEY_TRY(auto obj, require_object(&arr[i], p));
        PARLEY_TRY(std::string_view bt, read_enum(*obj, "type", p, true, {"text", "image"}));
        if (bt == "text") {
          PARLEY_TRY(std::string_view t, read_string(*obj, "text", p, true));
          if (!body.empty()) body += "\n\n";
          body += t;
        } else {
          PARLEY_TRY(MediaRef img, parse_image_source(*obj, p));
          doc.nested_media.push_back(std::move(img));
        }
      }
    } else {
      return cp.error(str_printf("expected a string or an array of blocks, got %s",
                                 type_phrase(content->type()).data()));
    }
  }
  std::string text = "Document";
  if (!title.empty()) text += ": " + std::string(title);
  text += "\n";
  if (!context.empty()) text += "Context: " + std::string(context) + "\n";
  text += "\n" + body;
  doc.text = std::move(text);
  return doc;
}

Result<std::string> parse_search_result(const json::Value& block, const FieldPath& path) {
  PARLEY_TRY(std::string_view source, read_string(block, "source", path, true));
  PARLEY_TRY(std::string_view title, read_string(block, "title", path, true));
  PARLEY_TRY(const json::Value* content, member(block, "content", path, true));
  FieldPath cp = path.key("content");
  if (!content->is_array()) {
    return cp.error(
        str_printf("expected an array of text blocks, got %s", type_phrase(content->type()).data()));
  }
  std::string text = "Search result: " + std::string(title) + "\nSource: " + std::string(source) +
                     "\n";
  const auto& arr = content->as_array();
  for (size_t i = 0; i < arr.size(); i++) {
    FieldPath p = cp.index(i);
    PARLEY_TRY(auto obj, require_object(&arr[i], p));
    PARLEY_TRY(auto bt, read_enum(*obj, "type", p, true, {"text"}));
    (void)bt;
    PARLEY_TRY(std::string_view t, read_string(*obj, "text", p, true));
    text += "\n";
    text += t;
  }
  return text;
}

Result<MediaRef> parse_image_url(std::string_view url, const FieldPath& path) {
  MediaRef ref;
  ref.path = path.str();
  if (starts_with(url, "data:")) {
    size_t comma = url.find(',');
    std::string_view header = url.substr(5, comma == std::string_view::npos ? 0 : comma - 5);
    if (comma == std::string_view::npos || !ends_with(header, ";base64")) {
      return path.error("expected a data URL of the form data:<media type>;base64,<data>");
    }
    std::string_view mt = header.substr(0, header.size() - 7);
    if (!starts_with(mt, "image/")) {
      return path.error(str_printf("expected an image media type in the data URL, got %s",
                                   quote_for_message(mt).c_str()));
    }
    if (!is_base64(url.substr(comma + 1))) return path.error("invalid base64 data in the data URL");
    ref.what = str_printf("an image (%s)", std::string(mt).c_str());
    return ref;
  }
  if (!is_http_url(url)) {
    return path.error(str_printf("expected an http(s) or data: URL, got %s",
                                 quote_for_message(url).c_str()));
  }
  ref.what = "an image (URL)";
  return ref;
}

json::Value anthropic_image_block(std::string_view url) {
  json::Value source = json::Value::object();
  if (starts_with(url, "data:")) {
    const size_t comma = url.find(',');
    source["type"] = "base64";
    source["media_type"] = url.substr(5, comma - 5 - 7);  // less ";base64"
    source["data"] = url.substr(comma + 1);
  } else {
    source["type"] = "url";
    source["url"] = url;
  }
  json::Value block = json::Value::object();
  block["type"] = "image";
  block["source"] = std::move(source);
  return block;
}

}  // namespace parley::api
