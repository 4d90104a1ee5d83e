// Bottender's own ConsoleBot on its MemorySessionStore, timed like bench_local_stores.py times ours:
// a counting bot, sequential events on one session, median of 2000-event blocks. Node: node bottender_memory.js SECONDS
const { ConsoleBot, MemorySessionStore } = require('bottender');
async function main() {
  const seconds = Number(process.argv[2] || 2);
  const bot = new ConsoleBot({ sessionStore: new MemorySessionStore() });
  bot.setInitialState({ count: 0 });
  bot.onEvent(async (context) => { context.setState({ count: context.state.count + 1 }); });
  const handler = bot.createRequestHandler();
  const body = { message: { text: 'hi' } };
  for (let i = 0; i < 2000; i++) await handler(body);
  const block = 2000, rates = [];
  const start = process.hrtime.bigint();
  let total = 2000;
  while (Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < block; i++) await handler(body);
    rates.push(block / (Number(process.hrtime.bigint() - t0) / 1e9));
    total += block;
  }
  const session = await bot.getSession();
  if (session._state.count !== total) throw new Error(`lost updates: ${session._state.count} != ${total}`);
  rates.sort((a, b) => a - b);
  console.log(JSON.stringify({ bench: 'bottender_counting_bot', store: 'memory', median_events_per_s: Math.round(rates[rates.length >> 1]), best: Math.round(rates[rates.length - 1]), blocks: rates.length }));
}
main().catch((e) => { console.error(e); process.exit(1); });
