import type { Command } from 'commander';

// Placeholder until the component lands; replaced by the owner of `trellis up`.
export function registerUp(program: Command): void {
  program.command('up').description('(not built yet)').action(() => {
    throw new Error('trellis up is not built yet');
  });
}
