/* WebSocket framing (RFC 6455 section 5), sans-I/O in the style of wslay: the parser never
 * touches a socket or a clock and never allocates. The caller feeds bytes with ws_parse();
 * the parser reports what it saw through callbacks. Unlike http1_parse() it keeps what it
 * needs (a partial frame header, a partial control frame) itself, so every byte presented is
 * consumed, and the caller never presents bytes twice.
 *
 * Message data is delivered incrementally (on_message_start, on_message_data,
 * on_message_end), unmasked and, for text, validated as UTF-8 before it is delivered (up to
 * the first invalid byte, then on_error: the same callbacks however the input is split);
 * control
 * frames are delivered whole (on_control). Pointers passed to callbacks are only valid
 * during the callback.
 *
 * Protocol errors go to on_error with the close code the RFC prescribes (1002, 1007, 1009)
 * and the absolute offset of the offending byte in the peer's stream (counted from the
 * first byte after the HTTP/1.1 101 response head); after an error the parser stops.
 *
 * When one frame header breaks several rules, the one reported is the one Chromium reports
 * (its WebSocketFrameParser, then WebSocketBasicStream, then WebSocketChannel): payload
 * length encoding, then control frame FIN/size, then the mask bit, then the RSV bits, then
 * the opcode, then the message sequence, then the size limit.
 *
 * The writer builds any frame, invalid ones included (the conformance suite sends those on
 * purpose); ws_write_client_frame() is the one for correct client frames. */
#ifndef COMET_WS_FRAME_H
#define COMET_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

enum ws_opcode {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* RFC 6455 section 7.4.1 (the registry as data: harness/proto/ws-close-codes.yaml). */
enum ws_close_code {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005,      /* never on the wire: "the close frame had no code" */
    WS_CLOSE_ABNORMAL = 1006,       /* never on the wire: "no close frame at all" */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_MANDATORY_EXTENSION = 1010,
    WS_CLOSE_INTERNAL_ERROR = 1011,
    WS_CLOSE_TLS_HANDSHAKE = 1015,  /* never on the wire */
};

#define WS_MAX_CONTROL_PAYLOAD 125
#define WS_MAX_HEADER 14                      /* 2 + 8 extended length + 4 masking key */
#define WS_DEFAULT_MAX_MESSAGE (64ull << 20)  /* 64 MiB */

typedef enum ws_error_kind {
    WS_ERR_LENGTH_NOT_MINIMAL = 1, /* 1002: 16-bit length < 126 or 64-bit length < 65536 */
    WS_ERR_LENGTH_MSB,             /* 1002: 64-bit length with its most significant bit set */
    WS_ERR_CONTROL_FRAGMENTED,     /* 1002: close/ping/pong without FIN */
    WS_ERR_CONTROL_TOO_LONG,       /* 1002: close/ping/pong payload > 125 bytes */
    WS_ERR_MASKED,                 /* 1002: a masked frame from the server (client role) */
    WS_ERR_UNMASKED,               /* 1002: an unmasked frame from the client (server role) */
    WS_ERR_RSV,                    /* 1002: RSV bits that no negotiated extension defines */
    WS_ERR_RESERVED_OPCODE,        /* 1002: opcode 3-7 or 0xB-0xF */
    WS_ERR_UNEXPECTED_CONTINUATION,/* 1002: continuation frame with no message to continue */
    WS_ERR_UNFINISHED_MESSAGE,     /* 1002: text/binary frame while a message is unfinished */
    WS_ERR_INVALID_UTF8,           /* 1007: text message is not UTF-8 */
    WS_ERR_TOO_BIG,                /* 1009: message longer than max_message */
    /* from ws_parse_close() */
    WS_ERR_CLOSE_ONE_BYTE,         /* 1002: close payload of 1 byte */
    WS_ERR_CLOSE_REASON_UTF8,      /* 1007: close reason is not UTF-8 */
} ws_error_kind;

typedef struct ws_error {
    ws_error_kind kind;
    uint16_t code;       /* the close code RFC 6455 prescribes */
    uint64_t offset;     /* absolute offset of the offending byte; for a text message that
                            ends inside a UTF-8 sequence, the offset of its first byte */
    const char *message; /* static, human-readable */
    /* the frame at fault, for messages that name its fields */
    uint8_t opcode;
    uint8_t rsv;         /* RSV1 << 2 | RSV2 << 1 | RSV3 */
    bool fin;
} ws_error;

/* A frame header, as on_frame_header sees it. */
typedef struct ws_frame_info {
    bool fin;
    uint8_t rsv;
    uint8_t opcode;
    bool masked;
    uint64_t length;     /* payload length */
    uint64_t offset;     /* absolute offset of the header's first byte */
} ws_frame_info;

typedef enum ws_role {
    WS_ROLE_CLIENT, /* parsing a server's frames: they must be unmasked (comet's side) */
    WS_ROLE_SERVER, /* parsing a client's frames: they must be masked */
} ws_role;

/* Every callback may be NULL, and may call ws_parser_stop(). */
typedef struct ws_parser_callbacks {
    /* Every frame whose header passed the length, control, mask and RSV checks, before the
     * opcode and the message sequence are checked (Chromium's order: a frame that arrives
     * after the closing handshake fails there, whatever its opcode). */
    void (*on_frame_header)(void *ud, const ws_frame_info *f);
    /* opcode is WS_OP_TEXT or WS_OP_BINARY. */
    void (*on_message_start)(void *ud, int opcode);
    void (*on_message_data)(void *ud, const uint8_t *data, size_t len);
    void (*on_message_end)(void *ud);
    /* Close, ping or pong, payload unmasked and whole (len <= 125). */
    void (*on_control)(void *ud, int opcode, const uint8_t *payload, size_t len);
    void (*on_error)(void *ud, const ws_error *e);
} ws_parser_callbacks;

typedef struct ws_parser {
    /* configuration (set after ws_parser_init, before the first byte) */
    ws_parser_callbacks cb;
    void *ud;
    ws_role role;
    uint8_t rsv_allowed;     /* RSV bits a negotiated extension defines; 0 (comet offers none) */
    bool discard_data;       /* drop data frames unchecked (Chromium after close() was called);
                                may be switched on from a callback */
    uint64_t max_message;    /* WS_DEFAULT_MAX_MESSAGE */
    /* state (read-only for callers) */
    uint64_t offset;         /* bytes consumed */
    bool failed;             /* on_error was called */
    bool stopped;            /* failed, or ws_parser_stop() */
    bool in_message;         /* a fragmented message is open */
    /* private */
    uint8_t hdr[WS_MAX_HEADER];
    uint8_t hdr_len;
    uint8_t hdr_need;
    uint8_t stage;
    uint8_t opcode;
    uint8_t rsv;
    bool fin;
    bool masked;
    bool discarding;         /* the current frame's payload is skipped */
    uint8_t mask[4];
    uint8_t mask_pos;
    uint8_t msg_opcode;
    uint8_t ctrl_len;
    uint8_t u8_need;         /* UTF-8: continuation bytes still expected */
    uint8_t u8_lo, u8_hi;    /* UTF-8: range of the next continuation byte */
    uint64_t u8_lead;        /* UTF-8: offset of the unfinished sequence's first byte */
    uint64_t frame_start;
    uint64_t left;           /* payload bytes of the current frame still to come */
    uint64_t msg_len;
    uint8_t ctrl[WS_MAX_CONTROL_PAYLOAD];
} ws_parser;

void ws_parser_init(ws_parser *p, ws_role role, const ws_parser_callbacks *cb, void *ud);
/* Consumes bytes; returns how many, which is len unless the parser stopped (an error, or
 * ws_parser_stop() from a callback). */
size_t ws_parse(ws_parser *p, const uint8_t *data, size_t len);
/* From a callback: ws_parse() returns once the callback does, and never parses again. */
void ws_parser_stop(ws_parser *p);

/* ---- close frames ----------------------------------------------------------------------- */

typedef struct ws_close_info {
    bool has_code;           /* false for an empty payload (the page then sees 1005) */
    uint16_t code;
    const uint8_t *reason;   /* points into the payload */
    size_t reason_len;
} ws_close_info;

/* Splits a close payload: empty, or a 2-byte code and a UTF-8 reason. Returns 0, or -1 with
 * err filled (WS_ERR_CLOSE_ONE_BYTE, WS_ERR_CLOSE_REASON_UTF8; err->offset is relative to the
 * payload). Whether the code may appear on the wire is not judged here: see
 * ws_close_code_valid() and the close-code registry (ws_close_registry.h). */
int ws_parse_close(const uint8_t *payload, size_t len, ws_close_info *out, ws_error *err);
/* RFC 6455 section 7.4: 1000-1003, 1007-1014 and 3000-4999 may be sent. */
bool ws_close_code_valid(unsigned code);

/* ---- UTF-8 -------------------------------------------------------------------------------- */

/* Whether s is UTF-8 (RFC 3629: no overlong forms, surrogates or code points > U+10FFFF);
 * when it is not and bad is non-NULL, *bad is the offset of the first invalid byte (or of
 * the first byte of a truncated sequence at the end). */
bool ws_utf8_valid(const uint8_t *s, size_t n, size_t *bad);

/* ---- writing frames ------------------------------------------------------------------------ */

/* Masks (or unmasks) n bytes: dst[i] = src[i] ^ key[(pos + i) % 4]; dst may equal src. */
void ws_mask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t key[4], size_t pos);

enum ws_length_form {
    WS_LEN_MINIMAL = 0, /* what RFC 6455 requires */
    WS_LEN_7,           /* forms below may be non-minimal, on purpose */
    WS_LEN_16,
    WS_LEN_64,
};

/* Any frame, valid or not. */
typedef struct ws_frame_spec {
    bool fin;
    uint8_t rsv;            /* 0-7: RSV1 << 2 | RSV2 << 1 | RSV3 */
    uint8_t opcode;         /* 0-15 */
    bool mask;
    uint8_t key[4];         /* the masking key when mask is set */
    int length_form;        /* enum ws_length_form */
    bool declare_length;    /* put declared_length in the header instead of len */
    uint64_t declared_length;
    const void *payload;
    size_t len;
} ws_frame_spec;

/* Appends the frame; returns 0, or -1 when out's limit is hit or the spec cannot be encoded
 * (a length that does not fit the chosen form). */
int ws_write_frame_spec(struct buf *out, const ws_frame_spec *f);
/* Appends a frame with a minimal length: any FIN/RSV/opcode, masked with key when mask is
 * set (key may be NULL otherwise). */
int ws_write_frame(struct buf *out, bool fin, unsigned rsv, unsigned opcode, bool mask,
                   const uint8_t key[4], const void *payload, size_t len);

/* Fills out[0..n) with random bytes; returns 0, or -1 on failure. */
typedef int (*ws_random_fn)(void *ud, uint8_t *out, size_t n);

/* A correct client frame: RSV 0, masked with a fresh key from rng (production passes
 * ws_random_bytes from ws_handshake.h). */
int ws_write_client_frame(struct buf *out, ws_random_fn rng, void *rng_ud, bool fin,
                          unsigned opcode, const void *payload, size_t len);
/* The payload of a close frame: code (big-endian) and reason; code < 0 gives an empty
 * payload. Returns the length, or -1 when it would exceed 125 bytes. */
int ws_close_payload(uint8_t out[WS_MAX_CONTROL_PAYLOAD], int code, const void *reason,
                     size_t reason_len);

/* "text", "binary", "close", "ping", "pong", "continuation", or "opcode-N". */
const char *ws_opcode_name(unsigned opcode);

#endif
