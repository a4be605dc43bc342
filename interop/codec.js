#!/usr/bin/env node
// Codec side of the differential test `interop/tests/codec.rs`: the JavaScript reference
// packages (pinned in package.json) serialize and deserialize ILP packets, IL-DCP and CCP
// messages here, and everything is printed in the JSON shape of the Rust crate `ilp-packet`
// (feature `serde`), so that the Rust test compares both sides field for field.
//
//   node codec.js generate SEED COUNT
//       COUNT seeded-random messages, spread evenly over every KIND, one JSON line each:
//       {"kind": KIND, "hex": <JS serialization>, "json": <the fields, in our JSON shape>}
//
//   node codec.js decode
//       Reads lines "KIND HEX" on stdin and prints, for each, one line:
//       {"json": <what JS decoded, in our JSON shape>, "hex": <JS re-serialization>}
//       or {"error": "<message>"} when the JS reference refuses the input.
//
// KIND is one of: prepare, fulfill, reject, ildcp-request, ildcp-response, ccp-control,
// ccp-update. No dependencies beyond the three pinned packages.
'use strict'

const IlpPacket = require('ilp-packet')
const Ildcp = require('ilp-protocol-ildcp')
const Ccp = require('ilp-protocol-ccp')

const KINDS = [
  'prepare',
  'fulfill',
  'reject',
  'ildcp-request',
  'ildcp-response',
  'ccp-control',
  'ccp-update'
]

const SCHEMES = ['g', 'private', 'example', 'peer', 'self', 'test', 'test1', 'test2', 'test3', 'local']
const SEGMENT_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~-'
const ILP_ERROR_CODES = Object.values(IlpPacket.IlpError)
const MAX_DATA_LEN = 32767
const MAX_MESSAGE_LEN = 8191
const MAX_ADDRESS_LEN = 1023
// 1970-01-01T00:00:00.001Z: ilp-packet refuses exactly the Unix epoch (its Date is falsy).
const MIN_MILLIS = 1
const MAX_MILLIS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

// ------------------------------------------------------------------------------------------
// Deterministic randomness: mulberry32.

function mulberry32 (seed) {
  let a = seed >>> 0
  return function () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Gen {
  constructor (seed) {
    this.next = mulberry32(seed)
  }

  // Integer in [0, n).
  int (n) {
    return Math.floor(this.next() * n)
  }

  // Integer in [lo, hi].
  range (lo, hi) {
    return lo + this.int(hi - lo + 1)
  }

  chance (p) {
    return this.next() < p
  }

  pick (items) {
    return items[this.int(items.length)]
  }

  u32 () {
    return Math.floor(this.next() * 4294967296) >>> 0
  }

  bytes (n) {
    const out = Buffer.alloc(n)
    for (let i = 0; i < n; i++) out[i] = this.int(256)
    return out
  }

  // A u32 biased towards the edges.
  edgyU32 () {
    switch (this.int(6)) {
      case 0: return 0
      case 1: return 4294967295
      case 2: return this.int(100)
      default: return this.u32()
    }
  }

  // A u64 as a decimal string, biased towards the edges.
  amount () {
    switch (this.int(8)) {
      case 0: return '0'
      case 1: return '18446744073709551615'
      case 2: return String(this.int(1000))
      case 3: return '9007199254740993' // 2^53 + 1: not a safe JS number
      default: return ((BigInt(this.u32()) << 32n) | BigInt(this.u32())).toString()
    }
  }

  // A Date in 1970..9999 with millisecond precision.
  date () {
    switch (this.int(10)) {
      case 0: return new Date(MIN_MILLIS)
      case 1: return new Date(MAX_MILLIS)
      case 2: return new Date(Date.UTC(this.pick([2000, 2016, 2024, 2400]), 1, 29, 23, 59, 59, this.int(1000)))
      default: {
        const span = MAX_MILLIS - MIN_MILLIS + 1
        const ms = (this.u32() * 4294967296 + this.u32()) % span
        return new Date(MIN_MILLIS + ms)
      }
    }
  }

  segment (len) {
    let s = ''
    for (let i = 0; i < len; i++) s += this.pick(SEGMENT_CHARS)
    return s
  }

  // A valid ILP address of exactly `len` bytes (when given), using every scheme and every
  // segment character.
  address (len) {
    const scheme = this.pick(SCHEMES)
    if (len === undefined) {
      len = this.chance(0.05)
        ? this.pick([MAX_ADDRESS_LEN, this.range(200, MAX_ADDRESS_LEN)])
        : scheme.length + 1 + this.range(1, 40)
    }
    len = Math.max(len, scheme.length + 2)
    let s = scheme
    let rem = len - s.length
    while (rem > 0) {
      const segLen = rem <= 21 ? rem - 1 : this.range(1, Math.min(60, rem - 3))
      s += '.' + this.segment(segLen)
      rem -= segLen + 1
    }
    return s
  }

  // A random code point: ASCII (with controls), Latin-1, BMP (no surrogates) or astral.
  codePoint () {
    switch (this.int(8)) {
      case 0: return this.int(0x20)
      case 1: return this.range(0x80, 0xff)
      case 2: return this.range(0x100, 0x7ff)
      case 3: {
        const c = this.range(0x800, 0xfffd)
        return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c
      }
      case 4: return this.range(0x10000, 0x10ffff)
      default: return this.range(0x20, 0x7e)
    }
  }

  // A well-formed string of at most `maxBytes` UTF-8 bytes (exactly maxBytes when `fill`).
  text (maxBytes, fill) {
    let s = ''
    let used = 0
    for (;;) {
      const c = String.fromCodePoint(this.codePoint())
      const n = Buffer.byteLength(c, 'utf8')
      if (used + n > maxBytes) break
      s += c
      used += n
    }
    if (fill) s += 'x'.repeat(maxBytes - used)
    return s
  }

  // A string for a length: mostly short, sometimes long, a few times exactly `max` bytes.
  someText (max) {
    const r = this.next()
    if (r < 0.1) return ''
    if (r < 0.75) return this.text(this.range(1, 40))
    if (r < 0.97) return this.text(this.range(41, Math.min(max, 600)))
    return this.text(max, true)
  }

  data () {
    const r = this.next()
    if (r < 0.15) return Buffer.alloc(0)
    if (r < 0.45) return this.bytes(this.range(1, 127))
    if (r < 0.55) return this.bytes(this.range(128, 300))
    if (r < 0.98) return this.bytes(this.range(0, 2000))
    return this.bytes(MAX_DATA_LEN)
  }

  uuid () {
    return this.bytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')
  }

  // A route prefix: an address, a scheme, the empty (catch-all) prefix or any ASCII text.
  prefix () {
    switch (this.int(6)) {
      case 0: return ''
      case 1: return this.pick(SCHEMES) + (this.chance(0.5) ? '.' : '')
      case 2: {
        let s = ''
        const n = this.range(1, 30)
        for (let i = 0; i < n; i++) s += String.fromCharCode(this.int(0x80))
        return s
      }
      default: return this.address()
    }
  }

  // A route property as ilp-protocol-ccp takes it (flags as booleans).
  prop () {
    const p = {
      isOptional: this.chance(0.5),
      isTransitive: this.chance(0.5),
      isPartial: this.chance(0.5),
      isUtf8: this.chance(0.5),
      id: this.pick([0, 65535, this.int(65536)])
    }
    if (p.isUtf8) p.value = this.someText(300)
    else p.value = this.bytes(this.pick([0, this.range(1, 64), this.range(100, 400)]))
    return p
  }
}

// ------------------------------------------------------------------------------------------
// JS objects -> our JSON shape.

const hex = (buf) => Buffer.from(buf).toString('hex')
const iso = (date) => date.toISOString()

// The meta byte ilp-protocol-ccp writes for a property (it normalises the flags, WIRE.md 7.3).
function propMeta (p) {
  let meta = 0
  if (p.isOptional) {
    meta |= 0x80
    if (p.isTransitive) {
      meta |= 0x40
      if (p.isPartial) meta |= 0x20
    }
  } else {
    meta |= 0x40
  }
  if (p.isUtf8) meta |= 0x10
  return meta
}

const MODES = ['idle', 'sync']

const ourJson = {
  packet (type, p) {
    switch (type) {
      case IlpPacket.Type.TYPE_ILP_PREPARE:
        return {
          type: 'prepare',
          amount: p.amount,
          expiresAt: iso(p.expiresAt),
          executionCondition: hex(p.executionCondition),
          destination: p.destination,
          data: hex(p.data)
        }
      case IlpPacket.Type.TYPE_ILP_FULFILL:
        return { type: 'fulfill', fulfillment: hex(p.fulfillment), data: hex(p.data) }
      case IlpPacket.Type.TYPE_ILP_REJECT:
        return {
          type: 'reject',
          code: p.code,
          triggeredBy: p.triggeredBy,
          message: p.message,
          data: hex(p.data)
        }
      default:
        throw new Error('unknown packet type ' + type)
    }
  },

  ildcpRequest (r) {
    return { expiresAt: iso(r.expiresAt) }
  },

  ildcpResponse (r) {
    return { clientAddress: r.clientAddress, assetScale: r.assetScale, assetCode: r.assetCode }
  },

  ccpControl (r) {
    return {
      mode: r.mode === 0 || r.mode === 1 ? MODES[r.mode] : r.mode,
      lastKnownRoutingTableId: r.lastKnownRoutingTableId,
      lastKnownEpoch: r.lastKnownEpoch,
      features: r.features
    }
  },

  ccpUpdate (r) {
    return {
      routingTableId: r.routingTableId,
      currentEpochIndex: r.currentEpochIndex,
      fromEpochIndex: r.fromEpochIndex,
      toEpochIndex: r.toEpochIndex,
      holdDownTime: r.holdDownTime,
      speaker: r.speaker,
      newRoutes: r.newRoutes.map((route) => ({
        prefix: route.prefix,
        path: route.path,
        auth: hex(route.auth),
        props: route.props.map((p) => ({
          meta: propMeta(p),
          id: p.id,
          value: p.isUtf8 ? Buffer.from(p.value, 'utf8').toString('hex') : hex(p.value)
        }))
      })),
      withdrawnRoutes: r.withdrawnRoutes
    }
  }
}

// ------------------------------------------------------------------------------------------
// Serialization with the JS reference.

const serialize = {
  packet (type, data) {
    return IlpPacket.serializeIlpPacket({ type, data })
  },
  ildcpRequest (r) {
    return Ildcp.serializeIldcpRequest(r)
  },
  ildcpResponse (r) {
    return Ildcp.serializeIldcpResponse(r)
  },
  // ilp-protocol-ccp stamps now + 60 s on the Prepare; keep the given expiry instead.
  ccpControl (r, expiresAt) {
    return IlpPacket.serializeIlpPrepare({ ...Ccp.constructCcpRouteControlRequest(r), expiresAt })
  },
  ccpUpdate (r, expiresAt) {
    return IlpPacket.serializeIlpPrepare({ ...Ccp.constructCcpRouteUpdateRequest(r), expiresAt })
  }
}

// ------------------------------------------------------------------------------------------
// generate

function generateOne (g, kind) {
  switch (kind) {
    case 'prepare': {
      const p = {
        amount: g.amount(),
        expiresAt: g.date(),
        executionCondition: g.bytes(32),
        destination: g.address(),
        data: g.data()
      }
      const type = IlpPacket.Type.TYPE_ILP_PREPARE
      return [serialize.packet(type, p), ourJson.packet(type, p)]
    }
    case 'fulfill': {
      const p = { fulfillment: g.chance(0.1) ? Buffer.alloc(32) : g.bytes(32), data: g.data() }
      const type = IlpPacket.Type.TYPE_ILP_FULFILL
      return [serialize.packet(type, p), ourJson.packet(type, p)]
    }
    case 'reject': {
      let code = g.pick(ILP_ERROR_CODES)
      if (g.chance(0.15)) {
        // Any IA5 code, including ones RFC 0027 does not define and control characters.
        code = String.fromCharCode(g.int(0x80), g.int(0x80), g.int(0x80))
      }
      let data = g.data()
      if (code === 'F08' && g.chance(0.7)) {
        // receivedAmount UInt64 || maximumAmount UInt64
        data = g.bytes(16)
      }
      const p = {
        code,
        // The empty triggeredBy that JS accepts and emits (ilp-packet never builds one).
        triggeredBy: g.chance(0.08) ? '' : g.address(),
        message: g.someText(MAX_MESSAGE_LEN),
        data
      }
      const type = IlpPacket.Type.TYPE_ILP_REJECT
      return [serialize.packet(type, p), ourJson.packet(type, p)]
    }
    case 'ildcp-request': {
      const r = { expiresAt: g.date() }
      return [serialize.ildcpRequest(r), ourJson.ildcpRequest(r)]
    }
    case 'ildcp-response': {
      const r = {
        clientAddress: g.address(),
        assetScale: g.pick([0, 255, 9, g.int(256)]),
        assetCode: g.chance(0.3) ? g.pick(['XRP', 'USD', 'EUR', 'BTC', 'ETH']) : g.someText(2000)
      }
      return [serialize.ildcpResponse(r), ourJson.ildcpResponse(r)]
    }
    case 'ccp-control': {
      const features = []
      const n = g.pick([0, 0, 1, 2, g.range(3, 10)])
      for (let i = 0; i < n; i++) features.push(g.someText(200))
      const r = {
        mode: g.int(2),
        lastKnownRoutingTableId: g.chance(0.1) ? '00000000-0000-0000-0000-000000000000' : g.uuid(),
        lastKnownEpoch: g.edgyU32(),
        features
      }
      return [serialize.ccpControl(r, g.date()), ourJson.ccpControl(r)]
    }
    case 'ccp-update': {
      const newRoutes = []
      const n = g.pick([0, 1, 2, g.range(3, 8), g.chance(0.2) ? g.range(20, 60) : 1])
      for (let i = 0; i < n; i++) {
        const path = []
        const hops = g.pick([0, 1, 2, g.range(3, 6)])
        for (let j = 0; j < hops; j++) path.push(g.address())
        const props = []
        const np = g.pick([0, 0, 1, 2, g.range(3, 5)])
        for (let j = 0; j < np; j++) props.push(g.prop())
        newRoutes.push({
          prefix: g.prefix(),
          path,
          auth: g.chance(0.3) ? Buffer.alloc(32) : g.bytes(32),
          props
        })
      }
      const withdrawnRoutes = []
      const nw = g.pick([0, 0, 1, 2, g.range(3, 10)])
      for (let i = 0; i < nw; i++) withdrawnRoutes.push(g.prefix())
      const r = {
        routingTableId: g.uuid(),
        currentEpochIndex: g.edgyU32(),
        fromEpochIndex: g.edgyU32(),
        toEpochIndex: g.edgyU32(),
        holdDownTime: g.pick([30000, 45000, g.edgyU32()]),
        speaker: g.address(),
        newRoutes,
        withdrawnRoutes
      }
      // Keep the payload within a Prepare's data bound (JS does not check it; we do).
      while (Ccp.serializeCcpRouteUpdateRequestPayload(r).length > MAX_DATA_LEN) newRoutes.pop()
      return [serialize.ccpUpdate(r, g.date()), ourJson.ccpUpdate(r)]
    }
    default:
      throw new Error('unknown kind ' + kind)
  }
}

function generate (seed, count) {
  const g = new Gen(seed)
  const lines = []
  for (let i = 0; i < count; i++) {
    const kind = KINDS[i % KINDS.length]
    const [buf, json] = generateOne(g, kind)
    lines.push(JSON.stringify({ kind, hex: buf.toString('hex'), json }))
  }
  process.stdout.write(lines.join('\n') + (lines.length ? '\n' : ''))
}

// ------------------------------------------------------------------------------------------
// decode

// ilp-protocol-ildcp and ilp-protocol-ccp refuse requests whose expiry is before Date.now();
// the differential test is about encoding, so run their deserializers with the clock stopped
// at the beginning of time.
function withoutExpiryCheck (fn) {
  const now = Date.now
  Date.now = () => -Infinity
  try {
    return fn()
  } finally {
    Date.now = now
  }
}

function decodeOne (kind, buf) {
  switch (kind) {
    case 'prepare':
    case 'fulfill':
    case 'reject': {
      const { type, data } = IlpPacket.deserializeIlpPacket(buf)
      return { json: ourJson.packet(type, data), hex: serialize.packet(type, data).toString('hex') }
    }
    case 'ildcp-request': {
      const r = withoutExpiryCheck(() => Ildcp.deserializeIldcpRequest(buf))
      return { json: ourJson.ildcpRequest(r), hex: serialize.ildcpRequest(r).toString('hex') }
    }
    case 'ildcp-response': {
      const r = Ildcp.deserializeIldcpResponse(buf)
      return { json: ourJson.ildcpResponse(r), hex: serialize.ildcpResponse(r).toString('hex') }
    }
    case 'ccp-control': {
      const r = withoutExpiryCheck(() => Ccp.deserializeCcpRouteControlRequest(buf))
      const { expiresAt } = IlpPacket.deserializeIlpPrepare(buf)
      return { json: ourJson.ccpControl(r), hex: serialize.ccpControl(r, expiresAt).toString('hex') }
    }
    case 'ccp-update': {
      const r = withoutExpiryCheck(() => Ccp.deserializeCcpRouteUpdateRequest(buf))
      const { expiresAt } = IlpPacket.deserializeIlpPrepare(buf)
      return { json: ourJson.ccpUpdate(r), hex: serialize.ccpUpdate(r, expiresAt).toString('hex') }
    }
    default:
      throw new Error('unknown kind ' + kind)
  }
}

function decode (input) {
  const out = []
  for (const line of input.split('\n')) {
    if (line.trim() === '') continue
    const [kind, hexText = ''] = line.trim().split(/\s+/)
    let result
    try {
      if (!/^([0-9a-fA-F]{2})*$/.test(hexText)) throw new Error('input is not hex')
      result = decodeOne(kind, Buffer.from(hexText, 'hex'))
    } catch (err) {
      result = { error: String((err && err.message) || err) }
    }
    out.push(JSON.stringify(result))
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''))
}

// ------------------------------------------------------------------------------------------

function usage () {
  process.stderr.write('usage: node codec.js generate SEED COUNT | node codec.js decode < lines\n')
  process.exit(2)
}

function main (argv) {
  switch (argv[0]) {
    case 'generate': {
      const seed = Number(argv[1])
      const count = Number(argv[2])
      if (!Number.isInteger(seed) || !Number.isInteger(count) || count < 0) usage()
      generate(seed, count)
      break
    }
    case 'decode': {
      const chunks = []
      process.stdin.on('data', (c) => chunks.push(c))
      process.stdin.on('end', () => decode(Buffer.concat(chunks).toString('utf8')))
      break
    }
    default:
      usage()
  }
}

main(process.argv.slice(2))
