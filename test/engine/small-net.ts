// A small conv net and one Adam training step on random data, shared by the memory test, the
// worker test and scripts/memory-soak.mjs.
import { F, manualSeed, randint, randn, tidy, keep, type Tensor } from '../../src/engine/index.js';
import { Adam, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../../src/nn/index.js';

export interface SmallTrainer {
  /** One forward/backward/Adam step inside tidy(); returns the loss. */
  step(): number;
}

export function smallTrainer(seed = 0, batch = 8): SmallTrainer {
  manualSeed(seed);
  const net = new Sequential(new Conv2d(1, 8, 3, { padding: 1 }), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8 * 8 * 8, 10));
  const optimizer = new Adam(net.parameters(), { lr: 1e-3 });
  const x: Tensor = keep(randn([batch, 1, 16, 16]));
  const y: Tensor = keep(randint(0, 10, [batch]));
  return {
    step: () =>
      tidy(() => {
        optimizer.zeroGrad();
        const loss = F.crossEntropy(net.forward(x), y);
        loss.backward();
        optimizer.step();
        return loss.item();
      }),
  };
}
