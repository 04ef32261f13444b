import { describe, expect, it } from 'vitest';
import { ContainerCommandError, containerArgv } from './command.js';

const image = { entrypoint: ['/bin/server'], defaultArgs: ['--port', '80'] };
const env = new Map([['PORT', '8080']]);

describe('containerArgv', () => {
  it.each([
    ['neither', {}, ['/bin/server', '--port', '80']],
    ['args only', { args: ['--port', '$(PORT)'] }, ['/bin/server', '--port', '8080']],
    ['command only', { command: ['/bin/sh'] }, ['/bin/sh']],
    ['both', { command: ['sh', '-c'], args: ['echo $(PORT)'] }, ['sh', '-c', 'echo 8080']],
    ['empty lists count as absent', { command: [], args: [] }, ['/bin/server', '--port', '80']],
    ['escaped', { command: ['echo', '$$(PORT)'] }, ['echo', '$(PORT)']],
  ])('%s', (_, container, expected) => {
    expect(containerArgv(image, container, env)).toEqual(expected);
  });

  it('uses args as argv for an image without entry point', () => {
    expect(containerArgv({}, { args: ['sleep', '1'] }, env)).toEqual(['sleep', '1']);
  });

  it('refuses an image without entry point when the container sets no command', () => {
    expect(() => containerArgv({}, {}, env)).toThrow(ContainerCommandError);
  });
});
