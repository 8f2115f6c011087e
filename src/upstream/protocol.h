// What one request to an upstream is, by the upstream's protocol (config.h's Protocol): the path
// and body POSTed, how the key and version are sent, and the reader of its streamed answer. The
// gateway routes and sends; this is the only place that knows each protocol.
#pragma once

#include <memory>

#include "api/chat-request.h"
#include "api/errors.h"
#include "api/upstreams.h"
#include "upstream/config.h"
#include "upstream/http-client.h"
#include "upstream/stream-reader.h"

namespace parley::upstream {

struct ProtocolCall {
  PostRequest post;  // path, body, key placement, extra headers (the rest is the gateway's)
  std::unique_ptr<StreamReader> reader;
};

// Translates `req` for `upstream`'s protocol. A request the protocol cannot express: false and
// `err` (a 400 naming the field).
bool prepare_call(const UpstreamConfig& upstream, const api::ChatRequest& req, const api::UpstreamCall& call,
                  ProtocolCall& out, api::ApiError& err);

// `s` with every occurrence of `secret` (an upstream key) replaced by "***".
std::string scrub_secret(std::string s, const std::string& secret);

}  // namespace parley::upstream
