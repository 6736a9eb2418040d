import type { Command } from 'commander';

// Placeholder until the component lands; replaced by the owner of `trellis async`.
export function registerAsync(program: Command): void {
  program.command('async').description('(not built yet)').action(() => {
    throw new Error('trellis async is not built yet');
  });
}
