import type { Command } from 'commander';

// Placeholder until the component lands; replaced by the owner of `trellis fn`.
export function registerFn(program: Command): void {
  program.command('fn').description('(not built yet)').action(() => {
    throw new Error('trellis fn is not built yet');
  });
}
