// The node side of the test convention of the transport interop tests (`btp.js`, `http.js`;
// on the Rust side `ilp_interop::convention` and ilp-core's TestReceiver), and the JSON line
// protocol both scripts speak with the Rust tests (one JSON object per line on stdout,
// commands on stdin).
//
// Answering (makeAnswerer): fulfillment = SHA-256(data); Fulfill (data echoed) when
// SHA-256(fulfillment) equals the condition, else Reject F05 "condition is not
// SHA-256(SHA-256(data))" triggered by test.js.receiver, with no data. With `hold`, a Prepare
// whose data starts with "hold:" is never answered (the tests use it to have Prepares in
// flight); each one prints {"held":<how many so far>}.
//
// Sending (sendPrepares): Prepare i (from 0) has a matching condition when i is even, a wrong
// one (SHA-256 of "wrong" + data) when odd; every answer is checked and counted.
'use strict'

const crypto = require('crypto')
const readline = require('readline')
const IlpPacket = require('ilp-packet')

const ADDRESS = 'test.js.receiver'
const DESTINATION = 'test.interop.receiver'
const REJECT_MESSAGE = 'condition is not SHA-256(SHA-256(data))'
const EXPIRY_MS = 30000
// How many Rejects a result shows in full; how many problems it lists.
const SHOWN = 5
const LISTED = 20

function sha256 (data) {
  return crypto.createHash('sha256').update(data).digest()
}

function print (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function exit (code) {
  // Let stdout drain before exiting.
  process.stdout.write('', () => process.exit(code))
}

// ------------------------------------------------------------------------------------------
// Answering Prepares

// A data handler for a plugin answering by the convention, and its counts: received,
// fulfilled, rejected (and held, with `hold`).
function makeAnswerer ({ hold = false } = {}) {
  const stats = { received: 0, fulfilled: 0, rejected: 0 }
  if (hold) stats.held = 0
  const handler = async (buffer) => {
    const prepare = IlpPacket.deserializeIlpPrepare(buffer)
    stats.received++
    if (hold && prepare.data.subarray(0, 5).toString('latin1') === 'hold:') {
      stats.held++
      print({ held: stats.held })
      return new Promise(() => {})
    }
    const fulfillment = sha256(prepare.data)
    if (sha256(fulfillment).equals(prepare.executionCondition)) {
      stats.fulfilled++
      return IlpPacket.serializeIlpFulfill({ fulfillment, data: prepare.data })
    }
    stats.rejected++
    return IlpPacket.serializeIlpReject({
      code: 'F05',
      triggeredBy: ADDRESS,
      message: REJECT_MESSAGE,
      data: Buffer.alloc(0)
    })
  }
  return { stats, handler }
}

// ------------------------------------------------------------------------------------------
// Sending Prepares

function testData (i, dataBytes) {
  const data = Buffer.alloc(dataBytes)
  for (let k = 0; k < dataBytes; k++) data[k] = (i * 131 + k * 7) & 0xff
  if (dataBytes >= 4) data.writeUInt32BE(i, 0)
  return data
}

// Sends `count` Prepares of `dataBytes` bytes of data through `plugin` (at most `concurrency`
// at a time; with `firstAlone`, Prepare 0 goes before all others) and checks every answer.
// The result:
//   sent, matching (how many had a matching condition), fulfilled, rejected (valid answers of
//   the expected kind), codes (reject code -> count, every reject), rejects (the first few
//   Rejects in full), unexpected (answers of the wrong kind, wrong fulfillments, data not
//   echoed), errors (sendData threw: BTP Error, HTTP error, timeout, undecodable reply), ms.
async function sendPrepares (plugin, count, { dataBytes, concurrency, firstAlone = false }) {
  const started = Date.now()
  const result = {
    sent: count,
    matching: 0,
    fulfilled: 0,
    rejected: 0,
    codes: {},
    rejects: [],
    unexpected: [],
    errors: [],
    ms: 0
  }
  const one = async (i) => {
    const data = testData(i, dataBytes)
    const matching = i % 2 === 0
    if (matching) result.matching++
    const executionCondition = matching
      ? sha256(sha256(data))
      : sha256(Buffer.concat([Buffer.from('wrong'), data]))
    const prepare = IlpPacket.serializeIlpPrepare({
      amount: String(i + 1),
      executionCondition,
      expiresAt: new Date(Date.now() + EXPIRY_MS),
      destination: DESTINATION,
      data
    })
    let reply
    try {
      reply = IlpPacket.deserializeIlpPacket(await plugin.sendData(prepare))
    } catch (err) {
      result.errors.push(`prepare ${i}: ${err.message}`)
      return
    }
    if (reply.type === IlpPacket.Type.TYPE_ILP_FULFILL) {
      const fulfill = reply.data
      if (!matching) {
        result.unexpected.push(`prepare ${i} (wrong condition) was fulfilled`)
      } else if (!sha256(fulfill.fulfillment).equals(executionCondition)) {
        result.unexpected.push(`prepare ${i}: fulfillment ${fulfill.fulfillment.toString('hex')} does not match`)
      } else if (!fulfill.data.equals(data)) {
        result.unexpected.push(`prepare ${i}: fulfill data ${fulfill.data.toString('hex')} is not the prepare's`)
      } else {
        result.fulfilled++
      }
    } else if (reply.type === IlpPacket.Type.TYPE_ILP_REJECT) {
      const reject = reply.data
      result.codes[reject.code] = (result.codes[reject.code] || 0) + 1
      if (result.rejects.length < SHOWN) {
        result.rejects.push({
          code: reject.code,
          triggeredBy: reject.triggeredBy,
          message: reject.message,
          data: reject.data.toString('hex')
        })
      }
      if (matching) {
        result.unexpected.push(`prepare ${i} (matching condition) was rejected: ${reject.code} ${reject.message}`)
      } else {
        result.rejected++
      }
    } else {
      result.unexpected.push(`prepare ${i}: reply of type ${reply.type}`)
    }
  }
  let next = 0
  if (firstAlone && count > 0) await one(next++)
  const worker = async () => {
    while (next < count) await one(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  result.unexpected = result.unexpected.slice(0, LISTED)
  result.errors = result.errors.slice(0, LISTED)
  result.ms = Date.now() - started
  return result
}

// ------------------------------------------------------------------------------------------
// The line protocol

// Prints {"ready":true,"port":P} once `httpServer` listens (now, if it already does), or
// {"error":...} and exits 1 when it cannot.
function announce (httpServer, port) {
  httpServer.on('error', (err) => {
    print({ error: `cannot listen on ${port}: ${err.message}` })
    exit(1)
  })
  const ready = () => print({ ready: true, port: httpServer.address().port })
  if (httpServer.listening) ready()
  else httpServer.once('listening', ready)
}

// Runs the commands on stdin, one JSON object a line, one at a time and in order: a command
// {"NAME": ARG} runs `await commands.NAME(ARG)` (the first name of `commands` it has, with a
// truthy ARG); a line that is not JSON, an unknown command or a command that throws prints
// {"error":...}. On stdin EOF, runs `close` once the commands are done, then exits 0.
function serveCommands (commands, close) {
  let queue = Promise.resolve()
  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', (text) => {
    if (!text.trim()) return
    queue = queue.then(async () => {
      let command
      try {
        command = JSON.parse(text)
      } catch (err) {
        print({ error: `not JSON: ${text}` })
        return
      }
      const name = Object.keys(commands).find((name) => command[name])
      if (!name) {
        print({ error: `unknown command: ${text}` })
        return
      }
      try {
        await commands[name](command[name])
      } catch (err) {
        print({ error: err.message })
      }
    })
  })
  lines.on('close', () => {
    queue.then(close).finally(() => exit(0))
  })
}

// Runs the mode named by the first argument: `modes[MODE](ARGS)` returns the mode's promise,
// or a falsy value when ARGS do not fit it (then `usage` goes to stderr and the exit code is
// 2). A mode that fails prints {"error":...} and exits 1.
function main (usage, modes) {
  const [mode, ...args] = process.argv.slice(2)
  const running = Object.prototype.hasOwnProperty.call(modes, mode) && modes[mode](args)
  if (!running) {
    process.stderr.write(usage)
    process.exit(2)
  }
  running.catch((err) => {
    print({ error: err.stack || String(err) })
    exit(1)
  })
}

module.exports = {
  makeAnswerer,
  sendPrepares,
  print,
  exit,
  announce,
  serveCommands,
  main
}
