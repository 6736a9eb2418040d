import type { Command } from 'commander';

// Placeholder until the component lands; replaced by the owner of `trellis redis-proxy`.
export function registerRedisProxy(program: Command): void {
  program.command('redis-proxy').description('(not built yet)').action(() => {
    throw new Error('trellis redis-proxy is not built yet');
  });
}
