#!/usr/bin/env node
// ILP-over-HTTP side of the interop tests `interop/tests/http.rs`: the JavaScript reference
// plugin `ilp-plugin-http` (pinned in package.json, with `ilp-packet` for the ILP packets) as an
// HTTP server or client. One JSON object per line on stdout.
//
//   node http.js server PORT SECRET [STATIC_TOKEN]
//       An ilp-plugin-http plugin listening on PORT (0: any free port) with
//       `incoming: { port, jwtSecret: SECRET, staticToken: STATIC_TOKEN }`: it accepts an
//       `Authorization` header holding a JWT HS256 signed with SECRET (the utf-8 bytes of the
//       string are the HMAC key) or the static token, with or without "Bearer " (the plugin
//       strips exactly that prefix, case-sensitively). Any path; GET answers 200 "OK".
//       (The plugin also insists on an `outgoing` section; it is never used here.)
//       Prints {"ready":true,"port":P} once listening. Commands on stdin:
//         {"stats":true}   prints {"stats":{received,fulfilled,rejected}}
//       Exits on stdin EOF.
//
//   node http.js client URL MODE SECRET COUNT
//       An ilp-plugin-http plugin with `outgoing: { url: URL, name: "alice", ... }` sending
//       COUNT Prepares to URL, then printing one line and exiting:
//         {"result":{sent,matching,fulfilled,rejected,codes,rejects,unexpected,errors,ms}}
//       (a failed HTTP request shows in "errors" as the plugin's
//       "failed to fetch. code=<status>"). MODE chooses the plugin's outgoing auth option:
//         jwt            `jwtSecret: SECRET`   -> `Authorization: Bearer <JWT>` (1.6 default)
//         legacy-jwt     `secret: SECRET`      -> `Authorization: <JWT>` (no "Bearer ")
//         static         `staticToken: SECRET` -> `Authorization: Bearer <SECRET>`
//         legacy-static  `secretToken: SECRET` -> `Authorization: <SECRET>`
//       The JWTs are `jsonwebtoken.sign({}, SECRET, { expiresIn: 30 })`: claims iat and exp,
//       no sub. Requests carry `Content-Type: application/ilp+octet-stream` and
//       `ILP-Peer-Name: alice`. Prepare 0 is sent alone, the rest 8 at a time: sent all at
//       once, every JWT request but the first would carry "undefined" (a race in the
//       plugin's token cache, see the README).
//
// The server answers Prepares, the client sends them, by the test convention (see
// convention.js).
'use strict'

const crypto = require('crypto')
const HttpPlugin = require('ilp-plugin-http')
const { makeAnswerer, sendPrepares, print, exit, announce, serveCommands, main } = require('./convention')

const DATA_BYTES = 32
const SEND_CONCURRENCY = 8

// ------------------------------------------------------------------------------------------
// server PORT SECRET [STATIC_TOKEN]

async function server (port, secret, staticToken) {
  const incoming = { port, jwtSecret: secret }
  if (staticToken) incoming.staticToken = staticToken
  const plugin = new HttpPlugin({
    incoming,
    // Required by the constructor (it builds the outgoing auth); never used.
    outgoing: { url: 'http://127.0.0.1:9/unused', jwtSecret: secret, name: 'js-server' }
  })
  const answerer = makeAnswerer()
  plugin.registerDataHandler(answerer.handler)
  await plugin.connect()
  announce(plugin._httpServer, port)
  serveCommands({ stats: () => print({ stats: answerer.stats }) }, () => plugin.disconnect())
}

// ------------------------------------------------------------------------------------------
// client URL MODE SECRET COUNT

const MODES = {
  jwt: (secret) => ({ jwtSecret: secret }),
  'legacy-jwt': (secret) => ({ secret }),
  static: (secret) => ({ staticToken: secret }),
  'legacy-static': (secret) => ({ secretToken: secret })
}

async function client (url, mode, secret, count) {
  const plugin = new HttpPlugin({
    // The plugin always listens; port 0 takes any free one. It accepts nothing here.
    incoming: { port: 0, staticToken: crypto.randomBytes(32).toString('hex') },
    outgoing: Object.assign({ url, name: 'alice' }, MODES[mode](secret))
  })
  await plugin.connect()
  // Prepare 0 goes alone, the rest SEND_CONCURRENCY at a time: the plugin's JWT cache has a
  // race (getToken() marks the token fresh before jsonwebtoken has signed it, so the calls
  // made meanwhile send "Bearer undefined" and get a 401); one request first fills the cache.
  const result = await sendPrepares(plugin, count, {
    dataBytes: DATA_BYTES,
    concurrency: SEND_CONCURRENCY,
    firstAlone: true
  })
  print({ result })
  await plugin.disconnect()
  exit(0)
}

// ------------------------------------------------------------------------------------------

main('usage: node http.js server PORT SECRET [STATIC_TOKEN] | node http.js client URL MODE SECRET COUNT\n' +
  `  MODE: ${Object.keys(MODES).join(' | ')}\n`, {
  server: (args) => (args.length === 2 || args.length === 3) && server(Number(args[0]), args[1], args[2]),
  client: (args) => args.length === 4 && MODES[args[1]] && client(args[0], args[1], args[2], Number(args[3]))
})
