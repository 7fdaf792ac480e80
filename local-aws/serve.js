#!/usr/bin/env node
// Starts dynalite (DynamoDB) or kinesalite (Kinesis) on 127.0.0.1 only, backed by LevelDB at --path.
// kinesalite's own CLI has no host option and listens on all interfaces: this wrapper is why.
// Usage: node serve.js dynamodb|kinesis --port PORT --path DIR
'use strict'
const argv = require('minimist')(process.argv.slice(2))
const service = argv._[0]
const factories = { dynamodb: 'dynalite', kinesis: 'kinesalite' }
if (!factories[service] || !argv.port || !argv.path) {
  console.error('usage: node serve.js dynamodb|kinesis --port PORT --path DIR')
  process.exit(2)
}
const options = { path: argv.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0,
  createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0,
  // every test session makes a stream of 2 shards per test: far above AWS's default of 500
  shardLimit: 100000 }
// dynalite and kinesalite throw from a request's 'error' event, so a client that dies in the middle
// of sending a request (a scorer or producer killed with kill -9) took the whole server down. Such a
// request was never processed (its body never arrived whole): it is dropped and the server goes
// on. Any other uncaught error still ends the process.
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) {
    console.error(`a client closed its connection mid-request (${err.code || err.message}): dropped`)
    return
  }
  console.error(err)
  process.exit(1)
})
const server = require(factories[service])(options)
server.listen(Number(argv.port), '127.0.0.1', () => {
  const address = server.address()
  console.log(`${factories[service]} listening at http://${address.address}:${address.port}`)
})
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)))
