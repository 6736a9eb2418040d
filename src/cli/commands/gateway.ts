import type { Command } from 'commander';

// Placeholder until the component lands; replaced by the owner of `trellis gateway`.
export function registerGateway(program: Command): void {
  program.command('gateway').description('(not built yet)').action(() => {
    throw new Error('trellis gateway is not built yet');
  });
}
