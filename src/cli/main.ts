#!/usr/bin/env node
// s2snets command line (entry point). `serve` runs without loading the compute engine (about a
// second by itself), so that the viewer starts fast; every other command loads the whole
// command set (program.ts).
const argv = process.argv;
if (argv[2] === 'serve') {
  const [{ newProgram, runProgram }, { addServeCommand }] = await Promise.all([import('./run-program.js'), import('./serve.js')]);
  await runProgram(addServeCommand(newProgram()), argv);
} else {
  const { runCli } = await import('./program.js');
  await runCli(argv);
}
