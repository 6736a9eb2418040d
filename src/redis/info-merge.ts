/**
 * INFO across shards: the backends' sections merged into one text. Counters (integer fields)
 * are summed; `db<N>` keyspace lines are summed field by field; everything else (versions,
 * modes, ratios, paths) is taken from the first shard. The `# Server` section describes the
 * first shard, since summing uptime or ports means nothing.
 */

type Section = { title: string; entries: Map<string, string> };

function parseInfo(text: string): Section[] {
  const sections: Section[] = [];
  let cur: Section | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.startsWith('#')) {
      cur = { title: line.slice(1).trim(), entries: new Map() };
      sections.push(cur);
    } else if (line.length > 0) {
      if (!cur) { cur = { title: '', entries: new Map() }; sections.push(cur); }
      const i = line.indexOf(':');
      if (i > 0) cur.entries.set(line.slice(0, i), line.slice(i + 1));
    }
  }
  return sections;
}

const INT = /^-?\d+$/;
/** Integer fields that are not counters. */
const NOT_SUMMED = new Set([
  'redis_version', 'redis_git_sha1', 'redis_git_dirty', 'arch_bits', 'process_id', 'tcp_port', 'uptime_in_seconds',
  'uptime_in_days', 'hz', 'configured_hz', 'lru_clock', 'io_threads_active', 'rdb_last_save_time',
  'aof_enabled', 'loading', 'async_loading', 'cluster_enabled', 'connected_slaves', 'master_repl_offset',
  'second_repl_offset', 'repl_backlog_active', 'repl_backlog_size', 'repl_backlog_first_byte_offset',
  'repl_backlog_histlen', 'rdb_changes_since_last_save', 'rdb_bgsave_in_progress', 'aof_rewrite_in_progress',
  'maxmemory', 'executable', 'mem_allocator', 'server_time_usec', 'rdb_last_bgsave_time_sec',
  'rdb_current_bgsave_time_sec', 'aof_last_rewrite_time_sec', 'aof_current_rewrite_time_sec',
  'rdb_last_cow_size', 'aof_last_cow_size', 'module_fork_in_progress', 'module_fork_last_cow_size',
  'current_cow_size', 'current_cow_size_age', 'current_fork_perc', 'current_save_keys_processed',
  'current_save_keys_total', 'latest_fork_usec', 'total_forks', 'aof_rewrite_scheduled', 'rdb_last_load_keys_expired',
  'rdb_last_load_keys_loaded',
]);

function keyspaceFields(part: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const kv of part.split(',')) {
    const [k, v] = kv.split('=');
    m.set(k, Number(v));
  }
  return m;
}

/** Sums two `keys=..,expires=..,avg_ttl=..` lines; avg_ttl is averaged weighted by each side's expires. */
function sumKeyspace(a: string, b: string): string {
  const fa = keyspaceFields(a);
  const fb = keyspaceFields(b);
  const order = [...fa.keys(), ...[...fb.keys()].filter((k) => !fa.has(k))];
  const ea = fa.get('expires') ?? 0;
  const eb = fb.get('expires') ?? 0;
  return order.map((k) => {
    const x = fa.get(k) ?? 0;
    const y = fb.get(k) ?? 0;
    if (k !== 'avg_ttl') return `${k}=${x + y}`;
    return `${k}=${ea + eb > 0 ? Math.round((x * ea + y * eb) / (ea + eb)) : Math.max(x, y)}`;
  }).join(',');
}

/** Merges INFO texts (one per reachable shard) and appends `extra` sections. */
export function mergeInfo(texts: string[], extra: string): string {
  const merged: Section[] = [];
  const byTitle = new Map<string, Section>();
  texts.forEach((text, shard) => {
    for (const s of parseInfo(text)) {
      let m = byTitle.get(s.title);
      if (!m) {
        m = { title: s.title, entries: new Map() };
        byTitle.set(s.title, m);
        merged.push(m);
      }
      const isServer = s.title.toLowerCase() === 'server';
      const isKeyspace = s.title.toLowerCase() === 'keyspace';
      for (const [k, v] of s.entries) {
        const prev = m.entries.get(k);
        if (prev === undefined) m.entries.set(k, v);
        else if (shard === 0 || isServer) continue;
        else if (isKeyspace) m.entries.set(k, sumKeyspace(prev, v));
        else if (INT.test(prev) && INT.test(v) && !NOT_SUMMED.has(k)) m.entries.set(k, String(Number(prev) + Number(v)));
      }
    }
  });
  const out: string[] = [];
  for (const s of merged) {
    if (s.title) out.push(`# ${s.title}`);
    for (const [k, v] of s.entries) out.push(`${k}:${v}`);
    out.push('');
  }
  return out.join('\r\n') + extra;
}
