// Bottender's own ConsoleBot counting events on one session, timed as the Python benchmarks time
// ours: sequential events, the median of fixed-size blocks. The peer of bench_local_stores.py
// (memory) and bench_redis.py (redis: Bottender's RedisSessionStore, ioredis, on PORT).
//   NODE_PATH=DIR/node_modules node bottender_counting.js SECONDS memory|redis [PORT]
const { ConsoleBot, MemorySessionStore, RedisSessionStore } = require('bottender');
async function main() {
  const seconds = Number(process.argv[2] || 2), kind = process.argv[3] || 'memory';
  const redis = kind === 'redis';
  const store = redis ? new RedisSessionStore({ host: '127.0.0.1', port: Number(process.argv[4]) })
    : new MemorySessionStore();
  const bot = new ConsoleBot({ sessionStore: store });
  bot.setInitialState({ count: 0 });
  bot.onEvent(async (context) => { context.setState({ count: context.state.count + 1 }); });
  const handler = bot.createRequestHandler();
  const body = { message: { text: 'hi' } };
  const block = redis ? 200 : 2000, rates = [];
  for (let i = 0; i < block; i++) await handler(body);
  const start = process.hrtime.bigint();
  let total = block;
  while (Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < block; i++) await handler(body);
    rates.push(block / (Number(process.hrtime.bigint() - t0) / 1e9));
    total += block;
  }
  const session = await bot.getSession();
  if (session && session._state.count !== total) throw new Error(`lost updates: ${session._state.count} != ${total}`);
  rates.sort((a, b) => a - b);
  console.log(JSON.stringify({ bench: 'bottender_counting_bot', store: kind, median_events_per_s: Math.round(rates[rates.length >> 1]), best: Math.round(rates[rates.length - 1]), blocks: rates.length }));
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
