/**
 * Adam with PyTorch's defaults (betas 0.9, 0.999, eps 1e-8, no weight decay),
 * on one parameter vector; the learning rate is given each step, as the
 * authors overwrite it from their schedule.
 */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;

  constructor(
    size: number,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
    private readonly eps = 1e-8,
  ) {
    this.m = new Float64Array(size);
    this.v = new Float64Array(size);
  }

  step(params: Float64Array, grads: Float64Array, lr: number): void {
    this.t++;
    const { m, v, beta1, beta2, eps } = this;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = Math.sqrt(1 - beta2 ** this.t);
    const stepSize = lr / bc1;
    for (let i = 0; i < params.length; i++) {
      const g = grads[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      params[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2 + eps);
    }
  }
}
