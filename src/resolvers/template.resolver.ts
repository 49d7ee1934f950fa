import { Arg, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { RenderTemplateInput, Rendered } from '../schema/template.types';
import { tenantOf } from './context';
import type { RequestContext } from './context';

@Resolver()
export class TemplateResolver {
  @Authorized('READ')
  @Query(() => Rendered, {
    description:
      'Previews a template for a customer and a sample event: exactly what a send renders.',
  })
  renderTemplate(
    @Arg('input') input: RenderTemplateInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Rendered> {
    return ctx.services.templates.preview(tenantOf(ctx), input);
  }
}
